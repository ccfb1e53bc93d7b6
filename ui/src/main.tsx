import { render } from "preact";
import { App } from "./App";
import { tauriIpc } from "./ipc";
import "./styles.css";

render(<App ipc={tauriIpc} />, document.getElementById("app")!);

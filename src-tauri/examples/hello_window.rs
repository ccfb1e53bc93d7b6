//! A hello-world Tauri window: the memory baseline the desktop benchmark compares Opsdeck
//! against, built from the same dependencies in the same run (see BENCHMARKS.md).

fn main() {
    tauri::Builder::default()
        .run(tauri::generate_context!("examples/hello/tauri.conf.json"))
        .expect("the hello window runs");
}

//! A hello-world Tauri window: the baseline the desktop benchmark compares Opsdeck against,
//! built from the same dependencies in the same run (see BENCHMARKS.md). It says when its page
//! has loaded, as Opsdeck does, and quits then when `OPSDECK_EXIT_AFTER_READY` is set.

use std::time::Instant;

use tauri::Manager;

fn main() {
    let launched = Instant::now();
    tauri::Builder::default()
        .on_page_load(move |webview, load| {
            if load.event() == tauri::webview::PageLoadEvent::Finished {
                eprintln!(
                    "hello-window: page loaded {} ms after launch",
                    launched.elapsed().as_millis()
                );
                if std::env::var_os("OPSDECK_EXIT_AFTER_READY").is_some() {
                    webview.app_handle().exit(0);
                }
            }
        })
        .run(tauri::generate_context!("examples/hello/tauri.conf.json"))
        .expect("the hello window runs");
}

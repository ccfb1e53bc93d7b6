//! How WebKit draws the window on this machine.

use std::ffi::OsStr;
use std::path::Path;

/// WebKitGTK's own switch: paint the page straight into the window instead of compositing its
/// layers through OpenGL.
const DISABLE_COMPOSITING: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";

/// Without a GPU render node, WebKit's OpenGL is Mesa's software rasteriser: every layer is
/// painted on the CPU and then composited again on the CPU. Painting straight into the window
/// is what such a machine does best, as browsers fall back to software compositing there
/// (BENCHMARKS.md: the web process 80 MB smaller, the frame after an input as soon at the
/// median and sooner at p99). Machines with a GPU keep WebKit's default, and a value the user
/// set is kept whichever it is. Called first in `main`, before any other thread runs and
/// before WebKit starts.
pub fn paint_directly_without_a_gpu() {
    let set_by_user = std::env::var_os(DISABLE_COMPOSITING).is_some();
    if !set_by_user && !has_render_node(Path::new("/dev/dri")) {
        std::env::set_var(DISABLE_COMPOSITING, "1");
    }
}

/// Whether `dri` (the kernel's `/dev/dri`) holds a render node (`renderD128`, …): the device a
/// GPU's OpenGL driver renders through. Absent in containers and VMs without one.
fn has_render_node(dri: &Path) -> bool {
    std::fs::read_dir(dri).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|entry| is_render_node(&entry.file_name()))
    })
}

fn is_render_node(name: &OsStr) -> bool {
    name.to_str()
        .is_some_and(|name| name.starts_with("renderD"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_render_node_is_told_from_a_display_card_or_no_device_at_all() {
        let dri = tempfile::tempdir().unwrap();
        assert!(!has_render_node(&dri.path().join("absent")));
        assert!(!has_render_node(dri.path()));
        std::fs::write(dri.path().join("card0"), "").unwrap();
        assert!(
            !has_render_node(dri.path()),
            "a display card alone renders nothing"
        );
        std::fs::write(dri.path().join("renderD128"), "").unwrap();
        assert!(has_render_node(dri.path()));
    }
}

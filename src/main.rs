//! `opsdeck`, the command line face of the engine: parses arguments, calls [`opsdeck::Engine`],
//! prints. See `src/cli/`.

mod cli;

/// jemalloc, with its background threads, gives the memory a big sync freed back to the
/// system while the process idles; glibc's allocator kept most of it. It serves the C
/// libraries' allocations too (the workspace's `unprefixed_malloc_on_supported_platforms`), so
/// SQLite's page cache goes back once its connection closes. An agent idle after its first
/// sync at 10,000 services held 330 MB with glibc's (BENCHMARKS.md).
#[cfg(target_os = "linux")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}

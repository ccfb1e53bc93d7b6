//! `opsdeck`, the command line face of the engine: parses arguments, calls [`opsdeck::Engine`],
//! prints. See `src/cli/`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}

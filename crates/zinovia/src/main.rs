//! The `zinovia` binary: every role of the platform behind one command line.

fn main() -> std::process::ExitCode {
    zinovia::cli::main()
}

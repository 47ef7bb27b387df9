//! The `zinovia` binary: every role of the platform behind one command line.

/// mimalloc rather than glibc's allocator: see docs/adr/0012.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    zinovia::cli::main()
}

//! Handing memory back to the system after a burst. glibc gives each thread that allocates an
//! arena of its own (up to eight per core) and keeps what a thread freed there: after catalog
//! refreshes of 100,000 sets (listings decoded on several threads at once) about 110 MB stayed
//! resident although nothing used it. Two arenas and a trim after each refresh keep it near
//! 60 MB (BENCHMARKS.md, "Catalog").

/// At most two glibc arenas for the whole process: the threads share them, and what a refresh
/// freed is reused by the next instead of parked in an arena of its own. Must run before any
/// other thread starts (the first thing `main` does).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[expect(unsafe_code, reason = "glibc's mallopt has no safe binding")]
pub fn limit_arenas() {
    // SAFETY: mallopt takes no pointers; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn limit_arenas() {}

/// Asks glibc to return the free pages of every arena (`malloc_trim(0)`); whether it gave any
/// back. Elsewhere (musl, macOS) nothing: those allocators return memory themselves.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[expect(unsafe_code, reason = "glibc's malloc_trim has no safe binding")]
pub fn release_freed() -> bool {
    // SAFETY: malloc_trim takes no pointers and touches only the allocator's own free lists,
    // under the same locks as every other allocation.
    unsafe { libc::malloc_trim(0) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_freed() -> bool {
    false
}

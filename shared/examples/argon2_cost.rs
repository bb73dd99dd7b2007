//! What one password verification costs with the configured argon2id parameters.
//!
//! `cargo run --release -p wxauth --example argon2_cost`: hashes once, verifies 20 times, and
//! prints the mean time per verification and the memory each one takes. Run it in release: the
//! figure is meant for sizing the Lambda functions (whose CPU share grows with their memory).

use std::time::Instant;

use wxauth::password::{self, ITERATIONS, MEMORY_KIB, PARALLELISM};

const VERIFICATIONS: u32 = 20;

fn main() -> anyhow::Result<()> {
    let started = Instant::now();
    let hash = password::hash_password("correct horse battery staple")?;
    let hashing = started.elapsed();

    let started = Instant::now();
    for _ in 0..VERIFICATIONS {
        anyhow::ensure!(password::verify_password("correct horse battery staple", &hash), "verification failed");
    }
    let mean = started.elapsed() / VERIFICATIONS;

    println!(
        "argon2id m={MEMORY_KIB} KiB ({:.1} MiB), t={ITERATIONS}, p={PARALLELISM}",
        f64::from(MEMORY_KIB) / 1024.0
    );
    println!("hash: {:.1} ms", hashing.as_secs_f64() * 1e3);
    println!("verify: {:.1} ms mean over {VERIFICATIONS}", mean.as_secs_f64() * 1e3);
    Ok(())
}

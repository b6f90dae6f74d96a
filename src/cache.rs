//! The compiled-module cache: loading or reloading bytes that were compiled
//! before (with the same settings) skips compilation. Kept in memory per
//! runtime, and optionally on disk, where artifacts are checked before use.

use crate::compile::{compile_wasm, engine_for, wasm_bytes, CompileSettings, CompiledModule};
use crate::error::{Error, ErrorKind, Result};
use crate::limits::Limits;
use parking_lot::{Mutex, RwLock};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use wasmer::Module;

/// Compiled modules kept in memory per runtime (oldest evicted first).
const MEMORY_ENTRIES: usize = 64;
const ARTIFACT_MAGIC: &[u8] = b"wasmcell compiled module\n";
/// Largest cache file read back; anything larger is not one of ours.
const MAX_ARTIFACT_BYTES: u64 = 512 * 1024 * 1024;

/// Cache counters, for tests and monitoring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Modules compiled by cranelift.
    pub compiles: u64,
    /// Loads and reloads served from memory.
    pub memory_hits: u64,
    /// Loads and reloads served from the cache directory.
    pub disk_hits: u64,
    /// Cache files that failed validation and were recompiled.
    pub rejected_files: u64,
}

#[derive(Default)]
pub(crate) struct ModuleCache {
    entries: Mutex<(HashMap<String, CompiledModule>, VecDeque<String>)>,
    directory: RwLock<Option<PathBuf>>,
    compiles: AtomicU64,
    memory_hits: AtomicU64,
    disk_hits: AtomicU64,
    rejected_files: AtomicU64,
}

/// What identifies a compiled module: its bytes and every setting that
/// changes the generated code.
fn cache_key(wasm: &[u8], limits: &Limits) -> String {
    let mut hash = Sha256::new();
    hash.update(wasm);
    hash.update(limits.fuel_per_poll.to_le_bytes());
    hash.update(limits.stack_bytes.to_le_bytes());
    // The instrumented code changes with the budget rewrite.
    hash.update(crate::budget::REWRITE_VERSION.to_le_bytes());
    // Deadline mode compiles other code; its time does not change the code.
    hash.update([crate::compile::budget_mode(limits) as u8]);
    hex::encode(hash.finalize())
}

/// The header line of a cache file: a file written by another wasmcell or
/// wasmer version, or for another machine, is foreign and recompiled.
fn artifact_header(key: &str) -> String {
    format!(
        "wasmcell={} wasmer={} target={}-{} key={key}\n",
        env!("CARGO_PKG_VERSION"),
        crate::engine::WASMER_VERSION,
        std::env::consts::ARCH,
        std::env::consts::OS
    )
}

impl ModuleCache {
    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            compiles: self.compiles.load(Ordering::Relaxed),
            memory_hits: self.memory_hits.load(Ordering::Relaxed),
            disk_hits: self.disk_hits.load(Ordering::Relaxed),
            rejected_files: self.rejected_files.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn set_directory(&self, directory: Option<PathBuf>) -> Result<()> {
        if let Some(dir) = &directory {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::new(
                    ErrorKind::Io,
                    format!("cannot create the cache directory {}: {e}", dir.display()),
                )
            })?;
        }
        *self.directory.write() = directory;
        Ok(())
    }

    /// The compiled module for `bytes` (binary wasm or WAT text).
    pub(crate) fn get_or_compile(
        &self,
        bytes: &[u8],
        limits: &Limits,
        settings: CompileSettings,
    ) -> Result<CompiledModule> {
        let wasm = wasm_bytes(bytes, limits)?;
        let key = cache_key(&wasm, limits);
        if let Some(hit) = self.entries.lock().0.get(&key) {
            self.memory_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(hit.clone());
        }
        let directory = self.directory.read().clone();
        let file = directory.map(|dir| dir.join(format!("{key}.wcm")));
        if let Some(file) = &file {
            if let Some(module) = self.read_artifact(file, &key, limits, settings) {
                self.disk_hits.fetch_add(1, Ordering::Relaxed);
                self.remember(&key, &module);
                return Ok(module);
            }
        }
        let module = compile_wasm(&wasm, limits, settings)?;
        self.compiles.fetch_add(1, Ordering::Relaxed);
        self.remember(&key, &module);
        if let Some(file) = &file {
            // A cache that cannot be written only costs a compile next time.
            let _ = write_artifact(file, &key, &module.module);
        }
        Ok(module)
    }

    fn remember(&self, key: &str, module: &CompiledModule) {
        let mut entries = self.entries.lock();
        let (map, order) = &mut *entries;
        if map.insert(key.to_string(), module.clone()).is_none() {
            order.push_back(key.to_string());
        }
        while order.len() > MEMORY_ENTRIES {
            if let Some(oldest) = order.pop_front() {
                map.remove(&oldest);
            }
        }
    }

    /// A validated artifact from the cache directory, or None (and the file
    /// counted as rejected) when it is missing, foreign or corrupted.
    fn read_artifact(
        &self,
        file: &Path,
        key: &str,
        limits: &Limits,
        settings: CompileSettings,
    ) -> Option<CompiledModule> {
        let contents = match read_regular_file(file, MAX_ARTIFACT_BYTES) {
            Ok(Some(contents)) => contents,
            // Missing: an ordinary miss, not a rejected file.
            Ok(None) => return None,
            Err(_) => {
                self.rejected_files.fetch_add(1, Ordering::Relaxed);
                return None;
            }
        };
        let module = validate_artifact(&contents, key).and_then(|artifact| {
            let engine = engine_for(limits, settings);
            // SAFETY: deserializing loads native code. The artifact is only
            // used when its header names this wasmcell and wasmer version,
            // this machine's target and this exact cache key, and its SHA-256
            // digest matches: a truncated, corrupted or foreign file is
            // recompiled instead. The directory itself must be trusted (only
            // the controller may write to it), as the header documents.
            let module = unsafe { Module::deserialize(&engine, artifact.to_vec()) }.ok()?;
            CompiledModule::new(module, engine).ok()
        });
        if module.is_none() {
            self.rejected_files.fetch_add(1, Ordering::Relaxed);
        }
        module
    }
}

/// The artifact bytes of a cache file, if its header and digest check out.
fn validate_artifact<'a>(contents: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let rest = contents.strip_prefix(ARTIFACT_MAGIC)?;
    let rest = rest.strip_prefix(artifact_header(key).as_bytes())?;
    if rest.len() < 32 {
        return None;
    }
    let (digest, artifact) = rest.split_at(32);
    (Sha256::digest(artifact).as_slice() == digest).then_some(artifact)
}

/// The contents of `file` if it is a regular file of at most `cap` bytes;
/// `Ok(None)` if it does not exist. Symbolic links are not followed, and a
/// FIFO or device is refused without blocking on it.
fn read_regular_file(file: &Path, cap: u64) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    #[cfg(not(unix))]
    {
        if std::fs::symlink_metadata(file).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(std::io::Error::other("a symbolic link, not a cache file"));
        }
    }
    let opened = match options.open(file) {
        Ok(opened) => opened,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let metadata = opened.metadata()?;
    if !metadata.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    if metadata.len() > cap {
        return Err(std::io::Error::other("larger than any cache file"));
    }
    let mut contents = Vec::with_capacity(metadata.len() as usize);
    // `take`: a file that grows while it is read still stops at the cap.
    opened.take(cap + 1).read_to_end(&mut contents)?;
    if contents.len() as u64 > cap {
        return Err(std::io::Error::other("larger than any cache file"));
    }
    Ok(Some(contents))
}

/// A temporary file name no other writer (thread or process) uses.
fn temporary_name(file: &Path) -> PathBuf {
    static WRITERS: AtomicU64 = AtomicU64::new(0);
    let writer = WRITERS.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    file.with_extension(format!("tmp.{}.{writer}.{nanos}", std::process::id()))
}

fn write_artifact(file: &Path, key: &str, module: &Module) -> std::io::Result<()> {
    let artifact = module
        .serialize()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    // Write to a temporary file of this writer's own (created exclusively,
    // so nothing planted under that name is followed) and rename it into
    // place atomically: a reader never sees half a file.
    let temporary = temporary_name(file);
    let written = (|| {
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)?;
        out.write_all(ARTIFACT_MAGIC)?;
        out.write_all(artifact_header(key).as_bytes())?;
        out.write_all(&Sha256::digest(&artifact))?;
        out.write_all(&artifact)?;
        out.sync_all()?;
        std::fs::rename(&temporary, file)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

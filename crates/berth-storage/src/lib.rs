//! Berth storage: an instance's disk. The pool and its drivers (`dir`, `btrfs`) with disk
//! limits, clones of built images, snapshots, and backup export/import (a hardened archive
//! format); plus the small host-filesystem helpers the image crate shares (host commands, path
//! errors, the mount table, removing trees).

pub mod backup;
pub mod cleanup;
pub mod cmd;
mod driver;
pub mod fsio;
mod image_tree;
pub mod mounts;
pub mod tree;

pub use driver::{
    BtrfsDriver, BtrfsError, DEFAULT_POOL_SIZE, DirDriver, DirError, DiskUsage, DriverChoice,
    StorageDriver, StorageError, btrfs, dir,
};
pub use image_tree::ImageTree;

pub use berth_types::error_chain;

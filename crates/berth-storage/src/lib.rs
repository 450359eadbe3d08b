//! Berth storage: an instance's disk. The pool and its drivers (`volume`, `btrfs`, `dir`) with
//! disk limits, clones of built images, snapshots, and backup export/import (a hardened archive
//! format); plus the small host-filesystem helpers the image crate shares (host commands, path
//! errors, the mount table, removing trees, loop devices).

pub mod backup;
pub mod cleanup;
pub mod cmd;
mod driver;
pub mod fsio;
mod image_tree;
pub mod loopdev;
pub mod mounts;
pub mod tree;
pub mod untar;

pub use driver::{
    BtrfsDriver, BtrfsError, DEFAULT_POOL_SIZE, DEFAULT_VOLUME_SIZE, DirDriver, DirError,
    DiskUsage, DriverChoice, PoolOptions, SnapshotView, StorageDriver, StorageError, VolumeDriver,
    VolumeError, btrfs, dir, volume,
};
pub use image_tree::ImageTree;

pub use berth_types::error_chain;

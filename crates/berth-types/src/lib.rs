//! Berth's shared vocabulary: instance names, image references, limits, states, operations and
//! the request/response types of the REST API. Everything here validates but does no I/O.

pub mod api;
pub mod backend;
pub mod bounded;
pub mod capacity;
pub mod credentials;
pub mod error;
pub mod events;
pub mod host;
pub mod idmap;
pub mod image;
pub mod image_servers;
pub mod instance;
pub mod instance_image;
pub mod limits;
pub mod mac;
pub mod metrics;
pub mod name;
pub mod operation;
pub mod purge;
pub mod schedule;
pub mod settings;
pub mod snapshot;
pub mod units;
pub mod wireguard;

pub use backend::BackendName;
pub use error::{FieldError, error_chain};
pub use idmap::{IdPool, IdRange};
pub use image::{Arch, Channel, Distro, ImageRef};
pub use instance::{CacheStatus, Forward, Instance, InstanceIdmap, InstanceNetwork, InstanceState};
pub use instance_image::{InstanceImage, ServerImage};
pub use limits::{HostCapacity, Limits};
pub use mac::MacAddr;
pub use name::InstanceName;
pub use operation::{Operation, OperationKind, OperationStatus, OperationStep, StepStatus};

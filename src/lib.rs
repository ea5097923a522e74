//! Kubewarden policy that adds `imagePullSecrets` to pod specs whose images match configured rules.

pub mod dockerconfig;
pub mod image_ref;
pub mod matcher;
pub mod settings;
pub mod workload;

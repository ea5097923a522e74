//! What only this policy needs: `explain` reads imagePullSecrets, and `bench` measures this
//! policy's workloads. The rest of the crate (annotate, run, replay) runs any waPC policy.

pub mod bench;
pub mod explain;

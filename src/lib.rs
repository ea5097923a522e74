//! Kubewarden policy that adds `imagePullSecrets` to pod specs whose images match configured rules.

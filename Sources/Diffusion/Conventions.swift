/// The one time convention of gen's diffusion models, used by every schedule, loss and sampler:
///
/// - `t ∈ [0, 1]`; **t = 0 is data, t = 1 is noise**.
/// - `xt = alpha(t)·data + sigma(t)·noise`, with `noise ~ N(0, I)`.
/// - DDPM's discrete step `k` of `T` is `t = k / T`; step 0 is the data itself.
/// - Flow matching uses `xt = (1 − t)·data + t·noise`, so its velocity is `noise − data` and
///   sampling integrates from t = 1 down to 0.
/// - Networks see time as `t · timeScale` (1000 by default), so a DDPM network receives the
///   step number `k` exactly as the original implementations do.
///
/// Tensors are named `data`, `noise` and `xt`; never a bare `x0`/`x1`.
public enum Conventions {
    /// The factor between `t ∈ [0, 1]` and what a network's time embedding receives.
    public static let timeScale: Float = 1000
}

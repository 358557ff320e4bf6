import Diffusion
import Flows
import GAN
import GenCore
import VAE

extension FamilyRegistry {
    /// gen's own families: the one place that lists them. A seventh is one more line here.
    public static let builtIn = FamilyRegistry([
        DDPMFamily.self, ScoreSDEFamily.self, FlowMatchingFamily.self, VAEFamily.self, RealNVPFamily.self, WGANFamily.self,
        FeatureClassifierFamily.self,
    ])
}

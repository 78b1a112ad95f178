"""strokeparam: brushstrokes as a differentiable image parameterization."""
__version__ = "0.1.0"

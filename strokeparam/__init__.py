"""strokeparam: brushstrokes as a differentiable image parameterization (a Lucent plugin)."""
from .models import Ensemble, load_classifier
from .painters import create_painter, list_painters
from .param import BrushstrokeParam
from .render import render_vis

__version__ = "0.1.0"
__all__ = ["BrushstrokeParam", "Ensemble", "create_painter", "list_painters", "load_classifier", "render_vis"]

"""Lucent's hook ``T``: every submodule's output from the last forward pass, by Lucent's layer names."""

import difflib


class Hook:
    """Records each submodule's output; ``T(name)`` returns it.

    Names are Lucent's: child names joined with ``_`` (``"members_0_net_blocks_5"``); ``"labels"`` is the
    output of the last hooked module, ``"input"`` is ``image_f()``. Use as a context manager or call
    :meth:`close` to remove the hooks.
    """

    def __init__(self, model, image_f=None):
        self.image_f = image_f
        self.features = {}
        self._handles = []
        self._hook(model, [])

    def _hook(self, module, prefix):
        for name, child in module._modules.items():
            if child is None:
                continue
            key = "_".join(prefix + [name])
            self.features[key] = None
            self._handles.append(child.register_forward_hook(self._recorder(key)))
            self._hook(child, prefix + [name])

    def _recorder(self, key):
        def record(module, inputs, output):
            self.features[key] = output

        return record

    def __call__(self, name):
        if name == "input":
            if self.image_f is None:
                raise ValueError("layer 'input' needs Hook(model, image_f=...)")
            return self.image_f()
        if name == "labels":
            if not self.features:
                raise ValueError("the model has no submodules to hook, so it has no 'labels'")
            name = list(self.features)[-1]
        if name not in self.features:
            close = difflib.get_close_matches(name, list(self.features), n=5)
            raise KeyError(f"no layer {name!r} in the model; close matches: {close}")
        out = self.features[name]
        if out is None:
            raise ValueError(f"layer {name!r} produced no output yet: run the model forward first")
        return out

    def close(self):
        """Remove the hooks."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

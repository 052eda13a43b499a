"""Keep TensorFlow out of a Rasa server whose model uses no TensorFlow component.

Rasa 3.6 imports TensorFlow at module level on its runtime path (policies -> featurizers
-> rasa.utils.train_utils -> rasa.utils.tensorflow.callback, and the registry of default
components imports DIET and TED), although our pipeline (config.yml: count vectors, our
sentence vectors in numpy, logistic regression, CRF; memoization and rules) never runs a
TensorFlow operation. Measured with bench/memory.py: TensorFlow is about 400 MB of the
Rasa process's resident memory, a third of a whole set of processes.

`install()` puts a stand-in in front of the import system for `tensorflow` and its
companions: every module is an empty package whose every attribute is an `Absent` (and
so on down: `tf.keras.callbacks.Callback`, `tf.float32`, `tf.function`), which Rasa's
modules can subclass (a plain `object` base), call, subscript and decorate with at
import time. Nothing of it may run when a message is handled, which
`refuse_tensorflow_models` makes sure of twice: a model with a component that needs
TensorFlow (one whose module, or the module of a class it builds on, imported it: DIET,
TED, the response selector, the language-model and ConveRT featurizers, a custom one)
is refused from its metadata before it loads, at start (the server stops with a
message) and through Rasa's HTTP API (`PUT /model`: the model served until then stays);
and once the server has loaded its model, any use of a stand-in (a call, a truth test,
iteration, a comparison) raises TensorFlowLeftOut instead of computing with nothing.
Training needs the real TensorFlow: the launcher installs the stand-in for `rasa run`
only (Rasa's `POST /model/train` endpoint was not tried with it; nothing of ours calls
it), and RASA_MEMORY_FIXES=0 leaves it out.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
import types
from collections.abc import Callable, Iterator, Sequence
from typing import Any

# The import roots that stand in (TensorFlow and what Rasa imports beside it).
ROOTS = frozenset(
    {"tensorflow", "tensorflow_addons", "tensorflow_hub", "tensorflow_text", "keras", "tf_keras"}
)

# Once the server has loaded its model, any use of a stand-in (a call, a truth test,
# iteration, a comparison) raises: nothing of TensorFlow runs while messages are
# handled, and if something tried, it fails loudly instead of computing with nothing.
_strict = False


def _use(what: str) -> None:
    if _strict:
        raise TensorFlowLeftOut(f"{what} needs TensorFlow, which this Rasa server leaves out")


class TensorFlowLeftOut(RuntimeError):
    """The model needs TensorFlow, which this Rasa server left out."""


class Absent:
    """Any TensorFlow object, at import time only."""

    _path: str

    def __init__(self, path: str) -> None:
        object.__setattr__(self, "_path", path)

    def __getattr__(self, name: str) -> Absent:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)  # so copy, pickle, inspect etc. see a plain object
        return Absent(f"{self._path}.{name}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        _use(self._path)
        # `@tf.function` keeps the function it decorates; `@tf.function(...)` too.
        if len(args) == 1 and not kwargs and callable(args[0]) and not isinstance(args[0], Absent):
            return args[0]
        return Absent(f"{self._path}()")

    def __getitem__(self, key: Any) -> Absent:
        return Absent(f"{self._path}[]")

    def __mro_entries__(self, bases: tuple[Any, ...]) -> tuple[type, ...]:
        _use(self._path)
        return (object,)  # `class RasaModel(tf.keras.Model)`: a plain class here

    def __bool__(self) -> bool:
        _use(self._path)
        return False

    def __iter__(self) -> Iterator[Any]:
        _use(self._path)
        return iter(())

    def __len__(self) -> int:
        _use(self._path)
        return 0

    def __eq__(self, other: object) -> bool:
        _use(self._path)
        return self is other

    __hash__ = object.__hash__

    def __or__(self, other: Any) -> Absent:
        return self  # `tf.Tensor | None` in annotations

    __ror__ = __or__

    def __repr__(self) -> str:
        return f"<TensorFlow left out: {self._path}>"


class _StandInModule(types.ModuleType):
    def __getattr__(self, name: str) -> Absent:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return Absent(f"{self.__name__}.{name}")


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] not in ROOTS:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = _StandInModule(spec.name)
        module.__path__ = []
        setattr(module, "__version__", "0+left.out")  # noqa: B010  # read by version checks
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        pass


def install() -> None:
    """Before anything imports TensorFlow: `import tensorflow` gets the stand-in."""
    if any(isinstance(f, _Finder) for f in sys.meta_path):
        return
    already = sorted(name for name in sys.modules if name.partition(".")[0] in ROOTS)
    if already:
        raise RuntimeError(f"TensorFlow was imported before the stand-in: {already[:3]}")
    sys.meta_path.insert(0, _Finder())


def needs_tensorflow(component: type) -> bool:
    """Whether a component, or a class it builds on, comes from a module that imported
    TensorFlow (Rasa's DIET, TED, response selector, language-model and ConveRT
    featurizers, and any custom component that imports it): what such a module holds of
    TensorFlow is a stand-in here."""
    for cls in component.__mro__:
        module = sys.modules.get(cls.__module__)
        names = vars(module).values() if module is not None else ()
        if any(isinstance(v, (Absent, _StandInModule)) for v in names):
            return True
    return False


def tensorflow_components(metadata: Any) -> list[str]:
    """The components of a model (its ModelMetadata) that need TensorFlow to predict."""
    return sorted(
        {
            node.uses.__name__
            for node in metadata.predict_schema.nodes.values()
            if needs_tensorflow(node.uses)
        }
    )


def refuse_tensorflow_models() -> None:
    """Every model Rasa loads (at start, or later through its HTTP API) is checked from its
    metadata before it is loaded: one that needs TensorFlow is refused with a message and
    the model served until then stays; at start, the server stops (exit status 78)."""
    from rasa.core import run
    from rasa.core.processor import MessageProcessor
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.model import get_latest_model

    load_model = MessageProcessor._load_model
    refused: list[str] = []

    def _load_model(model_path: Any) -> Any:
        archive = model_path if os.path.isfile(model_path) else get_latest_model(model_path)
        if archive:
            needs = tensorflow_components(LocalModelStorage.metadata_from_archive(archive))
            if needs:
                refused.append(
                    f"rasa_runtime: the model {os.path.basename(archive)} uses "
                    f"{', '.join(needs)}, which need TensorFlow; this server leaves TensorFlow "
                    "out to save memory. Start Rasa with RASA_MEMORY_FIXES=0 to load it."
                )
                raise TensorFlowLeftOut(refused[-1])
        return load_model(model_path)

    MessageProcessor._load_model = staticmethod(_load_model)
    start: Callable[..., Any] = run.load_agent_on_start

    async def load_agent_on_start(*args: Any, **kwargs: Any) -> Any:
        global _strict
        agent = await start(*args, **kwargs)  # Rasa logs the refusal and serves no model
        if refused:
            sys.stderr.write(refused[-1] + "\n")
            sys.stderr.flush()
            os._exit(78)  # EX_CONFIG: a restart would not help
        _strict = True  # from here on, any use of TensorFlow fails loudly
        return agent

    run.load_agent_on_start = load_agent_on_start

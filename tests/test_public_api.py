"""`import at` offers every public error class, without importing the jobs that raise them."""
import importlib
import inspect
import pkgutil
import subprocess
import sys

import at


def _library_errors() -> dict:
    found = {}
    for info in pkgutil.walk_packages(at.__path__, "at."):
        if info.name.startswith(("at.cli", "at.sim")):  # the CLI's and the simulator's own, not the library's
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (inspect.isclass(value) and issubclass(value, BaseException) and value.__module__ == module.__name__
                    and not name.startswith("_")):
                found[name] = value
    return found


def test_every_public_error_class_is_exported_from_at():
    errors = _library_errors()
    assert {"Interrupted", "AnswerCutError", "FirmwareError", "ModemFirmwareError", "FileError"} <= set(errors)
    for name, cls in errors.items():
        assert name in at.__all__, name
        assert getattr(at, name) is cls


def test_import_at_stays_light_and_star_import_reaches_lazy_errors():
    code = ("import sys, at; heavy = [m for m in ('at.files', 'at.manifest', 'at.flashing', 'cryptography', 'at.sim')"
            " if m in sys.modules]; assert not heavy, heavy; ns = {}; exec('from at import *', ns);"
            " assert ns['ManifestError'].__module__ == 'at.manifest' and ns['Interrupted'] is at.Interrupted")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr

"""Before a run starts: can the chosen base model train the version's tool-calling rows?

The same rule the training engine applies while it prepares the data
(workbench.data.model_view.tool_support), offered to the Train page and the run manager so a
run that would be refused is refused before it is queued. It reads the version's messages
column and the model's tokenizer files: call it from a worker, never on the GUI thread.
"""

from __future__ import annotations

import os

from workbench.core.errors import ModelError
from workbench.store import ProjectStore


def check_tool_support(store: ProjectStore, version_id: str, model_ref: str) -> None:
    """Raise ModelError (message, details, advice) when the version has tool calls, tool results
    or tool definitions that the chat template of `model_ref` (a base model's id, name or folder)
    does not show; return quietly otherwise, and for versions without tools (no model file is read)."""
    from workbench.data.model_view.template import ChatTemplate
    from workbench.data.model_view.tokens import find_tokenizer_files
    from workbench.data.model_view.tool_support import probe, problem, stored_usage
    from workbench.services.dataset_ops import model_folder

    version = store.get_version(version_id)
    usage = stored_usage(store.abspath(version.blob_path))
    if not usage:
        return
    folder = model_folder(store, model_ref)
    files = find_tokenizer_files(folder)
    template = ChatTemplate.from_files(files)
    found = problem(probe(template.render), usage, os.path.basename(os.path.normpath(folder)),
                    f"the dataset {store.dataset_name(version.dataset_id)}")
    if found is not None:
        message, details, advice = found
        raise ModelError(message, details=details, advice=advice)

"""Run records: every model and tool exchange of a run, written as it goes, replayed without a
model or a network, and compared step by step (the first divergence, and why).

- :mod:`.schema`: the versioned format (manifest, blobs, steps);
- :mod:`.normalize`: the normal form and hash of a request, scrubbing of secrets and paths;
- :mod:`.writer` / :mod:`.reader`: appending, and reading back validated (file and line named);
- :mod:`.session`: one image's recording or replay, and the hooks the graph calls;
- :mod:`.recording`: a run's settings and its sessions; :mod:`.replay_model`: the model slot of a
  replay; :mod:`.divergence`: what differs and why; :mod:`.timeline`: an image's steps to show;
- :mod:`.threads`: a conversation thread's runs (chat, the web app) as one record, replayed in order.
"""

from sinoloc.agent.records.divergence import Divergence
from sinoloc.agent.records.reader import Record, load_record, record_size
from sinoloc.agent.records.recording import RunRecording, file_sha256
from sinoloc.agent.records.replay_model import ReplayChatModel, replay_policy
from sinoloc.agent.records.schema import RECORD_DIR, VERSION
from sinoloc.agent.records.session import ON_MISS, OnMiss, ReplayMiss
from sinoloc.agent.records.writer import RecordError, open_record

__all__ = ["ON_MISS", "RECORD_DIR", "VERSION", "Divergence", "OnMiss", "Record", "RecordError",
           "ReplayChatModel", "ReplayMiss", "RunRecording", "file_sha256", "load_record",
           "open_record", "record_size", "replay_policy"]

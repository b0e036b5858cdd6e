"""The reference transfer engine: re-run a VM disk export on loopback the way XO does, with faults.

Jepsen's split (see ../shared/domain/engine-notes.md and xo-export-path.md):

- pool (``pool.py``, ``pki.py``, ``tools.py``): N hosts at 127.0.0.2, .3, ... each a real nbdkit on port
  10809 with TLS (certificate made by certtool for the run) serving the VDI under the export name
  ``/<vdi-uuid>?session_id=OpaqueRef:<uuid>`` (exportname filter, strict); an HTTP export endpoint
  (``httpexport.py``) streaming the VDI as dynamic VHD or qcow2; a ``VDI.get_nbd_info`` answer.
- disk (``disk.py``, ``streams.py``): a seeded raw disk (sparse and data regions, odd size), its VHD and
  qcow2 images laid out for sequential reading, and forward-only decoders.
- client (``nbd_client.py``): an asyncio NBD client (fixed newstyle, STARTTLS, EXPORT_NAME as XO does, GO,
  2 MiB reads with several in flight, DISC, a timeout and a distinct error per step).
- nemesis (``faultproxy.py``, ``blackhole.py``, nbdkit filters): the faults.
- policy (``policies/``): XO's connect, fallback, close and retry behaviour, and the proposed fixes.
- history and checker (``history.py``, ``checker.py``): every operation and fault with its time; the
  outcome, path, counts, and the copy's sha256 against the source's.
"""

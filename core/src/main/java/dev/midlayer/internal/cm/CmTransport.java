package dev.midlayer.internal.cm;

import dev.midlayer.ib.Gid;

/**
 * Internal API. How a CM sends {@link CmProtocol.Mad}s: to the CM that serves a port GID. Today the
 * {@link ReceptionistTransport} (CM actors found through the Pekko Receptionist, GIDs learnt from
 * {@link CmProtocol.Ports}); a MAD transport over QP1 would implement the same, sending to the GID's port.
 * Thread-safe; never blocks.
 */
public interface CmTransport {
  /** Sends {@code mad} to the CM serving {@code mad.dstGid()}; false (nothing sent) if none is known. */
  boolean send(CmProtocol.Mad mad);

  /** Whether a CM serving {@code gid} is known. */
  boolean reaches(Gid gid);
}

package dev.midlayer.device;

import dev.midlayer.client.ClientId;

/**
 * One object that exists on a device, as {@code rdma res} lists them (Linux's restrack): a PD, MR, FMR, CQ, QP,
 * SRQ, ... with the client that owns it. Immutable: every method never blocks and may be called from any thread.
 *
 * @param object what it is, as the leftover report names it (e.g. {@code "PD #3"}, {@code "RC QP 5"},
 *     {@code "CQ #2 (256 entries)"})
 * @param owner the client that created it (for an object made in a PD, the PD's owner); null for one that no
 *     client created (made outside a client's context, by the application itself)
 * @param qp for a queue pair, its number, state, port and counters when listed; null for every other object
 */
public record DeviceResourceInfo(String object, ClientId owner, QpResourceInfo qp) {
  /** An object that is not a queue pair. */
  public DeviceResourceInfo(String object, ClientId owner) {
    this(object, owner, null);
  }

  /** The kind of object: the first word of {@link #object} that is one of IB's ({@code PD}, {@code QP}, ...). */
  public String kind() {
    for (String word : object.split("[ #(]+")) {
      switch (word) {
        case "PD", "MR", "FMR", "CQ", "QP", "SRQ", "AH", "XRCD", "MW" -> {
          return word;
        }
        default -> { }
      }
    }
    return object.split(" ")[0];
  }
}

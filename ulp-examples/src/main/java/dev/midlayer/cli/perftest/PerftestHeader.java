package dev.midlayer.cli.perftest;

import dev.midlayer.device.Device;
import dev.midlayer.ib.LinkLayer;
import dev.midlayer.ib.PortAttributes;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.verbs.QueuePair;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.Map;

/**
 * The block linux-rdma perftest prints before its results: the test, the device, the QPs' transport and depths,
 * the MTU and inline size, then each QP's local and remote address (LID, QPN, PSN; the local GID on an Ethernet
 * port, the remote GID when the path has a GRH, as the CM's paths do), read from the QPs the connection manager
 * connected. Table output only ({@code --json} prints results
 * alone). <b>Never sleeps</b> (cached port attributes and {@code query} of the QP); the command's thread.
 */
final class PerftestHeader {
  static final String RULE = "-".repeat(87);
  private static final Map<String, String> TITLES = Map.of(
      "send_bw", "Send BW Test", "send_lat", "Send Latency Test",
      "write_bw", "RDMA_Write BW Test", "write_lat", "RDMA_Write Latency Test",
      "read_bw", "RDMA_Read BW Test", "read_lat", "RDMA_Read Latency Test",
      "atomic_bw", "Atomic FETCH_AND_ADD BW Test", "atomic_lat", "Atomic FETCH_AND_ADD Latency Test");

  private PerftestHeader() {}

  /**
   * Prints the block for {@code test} from this end's QPs ({@code qps}, all on one device, connected);
   * {@code cqMod} 0 omits the CQ moderation line (the latency tests signal every WR).
   */
  static void print(PrintWriter out, String test, QueuePair[] qps, int txDepth, int cqMod, int inlineSize) {
    Device device = qps[0].pd().device();
    QpAttr first = qps[0].query();
    PortAttributes port = device.cachedPort(first.portNum());
    boolean ethernet = port.linkLayer() == LinkLayer.ETHERNET;
    out.println(RULE);
    out.printf(Locale.ROOT, "%28s%s%n", "", TITLES.getOrDefault(test, test));
    row(out, "Dual-port", "OFF", "Device", device.name());
    row(out, "Number of qps", String.valueOf(qps.length), "Transport type", "IB");
    row(out, "Connection type", String.valueOf(qps[0].type()), "Using SRQ", "OFF");
    out.printf(Locale.ROOT, " %-15s : %d%n", "TX depth", txDepth);
    if (cqMod > 0) {
      out.printf(Locale.ROOT, " %-15s : %d%n", "CQ Moderation", cqMod);
    }
    out.printf(Locale.ROOT, " %-15s : %d[B]%n", "Mtu", first.pathMtu() == null ? 0 : first.pathMtu().bytes());
    out.printf(Locale.ROOT, " %-15s : %s%n", "Link type", ethernet ? "Ethernet" : "IB");
    out.printf(Locale.ROOT, " %-15s : %d[B]%n", "Max inline data", inlineSize);
    out.printf(Locale.ROOT, " %-15s : %s%n", "rdma_cm QPs", "ON");
    out.printf(Locale.ROOT, " %-15s : %s%n", "Data ex. method", "rdma_cm");
    out.println(RULE);
    for (QueuePair qp : qps) {
      QpAttr a = qp.query();
      out.printf(Locale.ROOT, " local address: LID %#06x QPN %#08x PSN %#08x%n", port.lid(), qp.qpNum(), a.sqPsn());
      if (ethernet) {
        out.printf(Locale.ROOT, " GID: %s%n", port.gids().get(0));
      }
      int remoteLid = a.ahAttr() == null ? 0 : a.ahAttr().dlid();
      out.printf(Locale.ROOT, " remote address: LID %#06x QPN %#08x PSN %#08x%n", remoteLid, a.destQpNum(),
          a.rqPsn());
      // The CM addresses the peer by GID (a GRH), so on IB the remote LID is 0 and the GID says where it is.
      if (a.ahAttr() != null && a.ahAttr().grh() && a.ahAttr().dgid() != null) {
        out.printf(Locale.ROOT, " GID: %s%n", a.ahAttr().dgid());
      }
    }
    out.flush();
  }

  private static void row(PrintWriter out, String k1, String v1, String k2, String v2) {
    out.printf(Locale.ROOT, " %-15s : %-14s %-14s : %s%n", k1, v1, k2, v2);
  }
}

package dev.midlayer.drivers.cluster;

import static org.awaitility.Awaitility.await;

import dev.midlayer.drivers.engine.Opcode;
import dev.midlayer.drivers.engine.Payload;
import dev.midlayer.ib.QpType;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import org.apache.pekko.actor.typed.ActorSystem;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Not a check: the numbers behind the README's large-message lane decision. Runs only with
 * {@code -Dmidlayer.measure=true}; prints bulk throughput and lone-packet latency for the ordinary lane and for
 * the frames on Artery's large-message lane. Asserts nothing about time.
 */
class ClusterLaneMeasureTest {
  @Test
  @DisplayName("measure: ordinary lane vs large-message lane (prints, asserts nothing)")
  void measure() throws Exception {
    Assumptions.assumeTrue(Boolean.getBoolean("midlayer.measure"), "set -Dmidlayer.measure=true to measure");
    String large = "pekko.remote.artery.large-message-destinations = [\"/system/midlayer-cluster-data\"]\n";
    run("ordinary, 128 KiB frames", "");
    run("large lane, 128 KiB frames", large);
    run("large lane, 1 MiB frames", large + "midlayer.cluster.frame-size = 1 MiB");
    run("ordinary, 128 KiB frames (again)", "");
    run("large lane, 128 KiB frames (again)", large);
  }

  private static void run(String label, String config) throws Exception {
    try (ClusterNodes nodes = new ClusterNodes("measure", config)) {
      List<ActorSystem<?>> s = nodes.cluster(2);
      WireSide a = new WireSide(s.get(0), QpType.UD, 1 << 20);
      WireSide b = new WireSide(s.get(1), QpType.UD, 1 << 20);
      await().atMost(ClusterNodes.DEADLINE).until(() -> a.fabric.route(b.device.gid(1)) != null);
      ClusterEndpoint to = (ClusterEndpoint) a.link.datagram(a.pathTo(b), WireSide.QPN);
      byte[] chunk = new byte[64 * 1024];
      for (int round = 0; round < 2; round++) { // the first round warms up
        b.received.clear();
        int n = 2048;
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
          a.link.send(to, a.packet(Opcode.SEND_ONLY, WireSide.QPN, i, new Payload.Bytes(chunk)), 0);
          if (i % 16 == 15) {
            a.link.flush();
            int sent = i + 1;
            // Keep at most 256 messages (16 MiB) ahead of the receiver, as an RC window would.
            await().atMost(ClusterNodes.DEADLINE).pollInterval(Duration.ofMillis(1))
                .until(() -> sent - b.received.size() <= 256);
          }
        }
        a.link.flush();
        await().atMost(ClusterNodes.DEADLINE).pollInterval(Duration.ofMillis(1)).until(() -> b.received.size() == n);
        double secs = (System.nanoTime() - t0) / 1e9;
        if (round == 1) {
          System.out.printf("MEASURE %s: bulk %.0f MiB/s (%d x 64 KiB in %.2f s)%n", label,
              n * 64.0 / 1024 / secs, n, secs);
        }
      }
      long[] lat = new long[300];
      for (int i = 0; i < lat.length; i++) {
        b.received.clear();
        long t0 = System.nanoTime();
        a.link.send(to, a.packet(Opcode.SEND_ONLY, WireSide.QPN, i, new Payload.Bytes(new byte[64])), 0);
        a.link.flush();
        while (b.received.isEmpty()) {
          Thread.onSpinWait();
        }
        lat[i] = System.nanoTime() - t0;
      }
      long[] tail = Arrays.copyOfRange(lat, 50, lat.length);
      Arrays.sort(tail);
      System.out.printf("MEASURE %s: lone 64 B packet one-way p50 %d us, p99 %d us%n", label,
          tail[tail.length / 2] / 1000, tail[tail.length * 99 / 100] / 1000);
    }
  }
}

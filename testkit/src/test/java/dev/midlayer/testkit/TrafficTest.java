package dev.midlayer.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.verbs.QpConnect;
import java.time.Duration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class TrafficTest {
  private static final Duration DEADLINE = Duration.ofSeconds(30);

  // A midlayer per test, shut down after it; a test that leaves something behind fails.
  @RegisterExtension
  final MidlayerFabric fabric = MidlayerFabric.loopback().devices(0).build();
  private MidlayerTestKit kit;

  @BeforeEach
  void start() {
    kit = fabric.kit();
  }

  @Test
  @DisplayName("stream: 1,000 SENDs arrive in order with a window of 64 sends over 16 receives, because the "
      + "sender waits for credits (with rnr_retry 0 an RNR NAK would fail it); and with a window of 1")
  void streamIsWindowedAndCreditBased() {
    QpConnect.Params noRnrRetry = QpConnect.Params.defaults().withRetries(14, 7, 0, 12);
    try (ConnectedPair p = ConnectedPair.rc(kit).params(noRnrRetry)
        .cap(new dev.midlayer.ib.QpCap(64, 16, 1, 1, 0)).cqEntries(128).build()) {
      for (int window : new int[] {64, 1}) {
        int n = window == 64 ? 1000 : 100;
        Traffic.Stream s = Traffic.stream(p, n, 64, window, DEADLINE);
        assertEquals(n, s.sends().size());
        assertEquals(n, s.receives().size());
        for (int i = 0; i < n; i++) {
          assertEquals(i, s.sends().get(i).wrId(), "sends in order");
          assertEquals(i, s.receives().get(i).wrId(), "receives in order");
          assertEquals(64, s.receives().get(i).byteLen());
        }
      }
    }
  }

  @Test
  @DisplayName("pingPong: every round trip completes, one round trip time per round")
  void pingPong() {
    try (ConnectedPair p = ConnectedPair.rc(kit).build()) {
      long[] rtt = Traffic.pingPong(p, 50, 32, DEADLINE);
      assertEquals(50, rtt.length);
      for (long t : rtt) {
        assertTrue(t > 0, "a round trip takes time");
      }
    }
  }

  @Test
  @DisplayName("a stream fails with the first failed completion (RC to a peer whose link is down), or at its "
      + "deadline when messages are lost silently (UC)")
  void failures() {
    QpConnect.Params quick = QpConnect.Params.defaults().withRetries(1, 1, 0, 1);
    try (ConnectedPair rc = ConnectedPair.rc(kit).params(quick).build()) {
      rc.b().device().linkDown(1);
      AssertionError failed = assertThrows(AssertionError.class, () -> Traffic.stream(rc, 10, 64, 4, DEADLINE));
      assertTrue(failed.getMessage().contains("a completion failed") && failed.getMessage().contains("RETRY_EXC"),
          failed.getMessage());
      rc.b().device().linkUp(1);
    }
    try (ConnectedPair uc = ConnectedPair.uc(kit).build()) {
      uc.b().device().linkDown(1);
      AssertionError late = assertThrows(AssertionError.class,
          () -> Traffic.stream(uc, 10, 64, 4, Duration.ofMillis(300)));
      assertTrue(late.getMessage().contains("not done within PT0.3S"), late.getMessage());
      uc.b().device().linkUp(1);
    }
  }
}

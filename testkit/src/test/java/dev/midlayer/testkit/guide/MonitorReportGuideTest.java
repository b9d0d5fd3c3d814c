package dev.midlayer.testkit.guide;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.monitor.Check;
import dev.midlayer.monitor.Violation;
import dev.midlayer.testkit.Await;
import dev.midlayer.testkit.ConnectedPair;
import dev.midlayer.testkit.MidlayerTestKit;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The example of {@code testkit/README.md}, "Reading a monitor report": a completion handler that sleeps (a ULP
 * bug), the report the monitor writes about it, and what each part of it means.
 */
class MonitorReportGuideTest {
  @Test
  @DisplayName("a sleeping completion handler: one BLOCKING violation, naming the rule, handler, CQ and stack")
  void aReportOfASleepingHandler() {
    MidlayerTestKit kit = MidlayerTestKit.create();
    kit.expectViolations(Check.BLOCKING); // this test makes the bug on purpose; without this, shutdown fails
    CompletableFuture<Void> handled = new CompletableFuture<>();
    try (ConnectedPair pair = ConnectedPair.rc(kit).completionHandlers(null, cq -> {
      try {
        Thread.sleep(1); // the bug: a callback runs in atomic context and must never sleep (C10)
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      while (cq.poll() != null) {
        handled.complete(null);
      }
    }).build()) {
      pair.b().qp().postRecv(RecvWr.of(1, Sge.of(pair.b().mr(), 0, 8)));
      pair.a().qp().postSend(SendWr.send(1, 0, Sge.of(pair.a().mr(), 0, 8)));
      Await.result(handled);
    }
    String report = kit.monitor().report();
    System.out.println(report); // what the README shows
    List<Violation> blocking = kit.monitor().violations(Check.BLOCKING);
    assertTrue(!blocking.isEmpty(), report);
    Violation v = blocking.get(0);
    assertEquals("C10", v.rule().name());
    assertTrue(v.object().startsWith("completion handler of CQ #1 on lo1"), v.object());
    assertTrue(v.thread().contains("midlayer.callback-dispatcher"), v.thread());
    assertTrue(v.describe().contains("MonitorReportGuideTest"), "the stack points at the sleeping line");
    assertTrue(report.endsWith("contract violations: " + kit.monitor().total()), report);
    kit.shutdown();
  }
}

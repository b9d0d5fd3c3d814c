package dev.midlayer.monitor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.midlayer.context.AtomicContext;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.monitor.Check;
import dev.midlayer.testsupport.ExpectViolations;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The monitor's bookkeeping on its own, without a midlayer: the ledger's rules (twice, never, and what IB
 * discards without a completion), the thread's marks, and the cap that keeps a loop from flooding it. The
 * testkit's ContractMonitorTest and BrokenDriversTest prove each check against a running midlayer.
 */
class ContractMonitorUnitTest {
  private final Object sq = new Object();

  @Test
  @DisplayName("ledger: a second completion is a violation at once; one never completed is found by verify")
  void ledgerTwiceAndNever() {
    ContractMonitor m = new ContractMonitor("unit");
    Object a = new Object();
    Object b = new Object();
    m.ledger().posted(sq, "sq", null, a, true);
    m.ledger().posted(sq, "sq", null, b, true);
    m.ledger().completed(sq, "sq", null, a, WcStatus.SUCCESS);
    assertEquals(0, m.total());
    m.ledger().completed(sq, "sq", null, a, WcStatus.SUCCESS);
    assertEquals(1, m.count(Check.NOT_EXACTLY_ONCE), m::report);
    assertTrue(m.violations().get(0).message().contains("not outstanding"));
    m.ledger().tornDown(sq, true); // b should have been flushed
    assertEquals(1, m.ledger().neverCompleted().size());
    ContractViolationError e = assertThrows(ContractViolationError.class, m::assertNone);
    assertEquals(2, e.violations().size());
    assertTrue(e.getMessage().contains("contract violations: 2"), e.getMessage());
  }

  @Test
  @DisplayName("ledger: RESET and a destroy outside ERR discard without a violation; a refused post is not accepted")
  void ledgerDiscards() {
    ContractMonitor m = new ContractMonitor("unit");
    Object a = new Object();
    m.ledger().posted(sq, "sq", null, a, true);
    m.ledger().reset(sq);
    assertEquals(1, m.ledger().discardedByReset());
    Object b = new Object();
    m.ledger().posted(sq, "sq", null, b, false);
    m.ledger().refused(sq, b);
    assertEquals(1, m.ledger().accepted());
    Object c = new Object();
    m.ledger().posted(sq, "sq", null, c, true);
    m.ledger().tornDown(sq, false);
    assertEquals(1, m.ledger().discardedByDestroy());
    assertEquals(java.util.List.of(), m.verify());
  }

  @Test
  @DisplayName("unsignaled sends: finished without a completion are counted; an error completion of one is once")
  void ledgerUnsignaled() {
    ContractMonitor m = new ContractMonitor("unit");
    Object a = new Object();
    Object b = new Object();
    m.ledger().posted(sq, "sq", null, a, false);
    m.ledger().posted(sq, "sq", null, b, false);
    m.ledger().finishedUnsignaled(sq, 1);
    m.ledger().completed(sq, "sq", null, b, WcStatus.WR_FLUSH_ERR);
    m.ledger().tornDown(sq, true);
    assertEquals(java.util.List.of(), m.verify(), m::report);
    assertEquals(1, m.ledger().flushed());
  }

  @Test
  @DisplayName("marks: inside a verb or a callback the thread must not block; a completion inside a verb is C8")
  void marks() {
    ContractMonitor m = new ContractMonitor("unit");
    assertFalse(ContractMonitor.mustNotBlock());
    m.verbEntered(NonSleepingVerb.POST_SEND, "QP 2", null, null);
    try {
      assertTrue(ContractMonitor.inNonSleepingVerb());
      m.completionProduced("QP 2", "a completion");
    } finally {
      m.verbExited(NonSleepingVerb.POST_SEND);
    }
    assertFalse(ContractMonitor.inNonSleepingVerb());
    AtomicContext.run("handler", () -> assertTrue(ContractMonitor.mustNotBlock()));
    assertEquals(1, m.count(Check.NOT_DEFERRED));
    assertEquals("[C8 check 1 NOT_DEFERRED]", m.violations().get(0).headline().substring(0, 25));
  }

  @Test
  @DisplayName("a callback that blocks in a loop is counted in full, but only the first 100 are kept")
  @ExpectViolations(Check.BLOCKING) // the test blocks in a callback on purpose
  void cap() {
    ContractMonitor m = new ContractMonitor("unit");
    m.attached();
    try {
      AtomicContext.run("looping handler", () -> {
        for (int i = 0; i < 150; i++) {
          ContractMonitor.blockingCall("java.lang.Thread.sleep");
        }
      });
    } finally {
      m.detached();
    }
    assertEquals(150, m.count(Check.BLOCKING));
    assertEquals(ContractMonitor.KEPT_PER_CHECK, m.violations(Check.BLOCKING).size());
    assertEquals(Rule.C10, m.violations().get(0).rule());
  }
}

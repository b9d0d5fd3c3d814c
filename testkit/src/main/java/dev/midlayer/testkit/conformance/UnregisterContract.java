package dev.midlayer.testkit.conformance;

import static dev.midlayer.testkit.conformance.ConformanceFixture.DEADLINE_MS;
import static dev.midlayer.testkit.conformance.ConformanceFixture.await;
import static dev.midlayer.testkit.conformance.ConformanceFixture.awaitTrue;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.cq.CqNotify;
import dev.midlayer.cq.PollContext;
import dev.midlayer.device.Device;
import dev.midlayer.device.DeviceState;
import dev.midlayer.device.DeviceUnregisteredException;
import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpAttrMask;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.SrqAttr;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.monitor.Check;
import dev.midlayer.verbs.AddressHandle;
import dev.midlayer.verbs.ObjectDestroyedException;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.ProtectionDomain;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.QpInitAttr;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.SharedReceiveQueue;
import dev.midlayer.verbs.WorkCompletion;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * The errors verbs report once their objects (or their device) are gone: after unregistration every data-path
 * verb fails with {@link DeviceUnregisteredException}; a destroyed SRQ refuses posts; a UD post racing the
 * destruction of its AH fails only with {@link PostException} and the driver's QP keeps working; a drain whose QP
 * or device goes away settles (completes or fails typed) within the deadline. The drain tests hold the drain with
 * an event handler that blocks on purpose: they declare the monitor's BLOCKING violation.
 *
 * <p>Seed rules: C15 (after unregistration nothing of the device runs; its objects are reclaimed), C1/C2 (posts
 * never block; what they refuse is a typed exception). IB spec: IBA vol. 1 §10.2 (destroying resources), §10.3.1
 * (ERR, drains as in Linux {@code ib_drain_qp}), §11.4 (posting to a destroyed QP is an immediate error).
 *
 * <p>Test methods run on JUnit's thread, the race's destroyer on a thread of the test's own.
 */
public abstract class UnregisterContract extends DriverContract {
  private static final QpCap CAP = new QpCap(16, 16, 1, 1, 0);
  private static final int QKEY = 0x5EED;

  /** Objects a client left on a device, reclaimed when the device was removed. */
  private record Leftovers(Device dev, ProtectionDomain pd, CompletionQueue cq, QueuePair qp,
      SharedReceiveQueue srq, AddressHandle ah, ConformanceFixture.Side side) {}

  /** A device with a PD, a CQ, an MR, a UD QP in RTS, an SRQ and an AH left on it, then removed from the fabric. */
  private Leftovers leaveObjectsAndRemoveDevice() throws Exception {
    ConformanceFixture.Side s = f.side(64, 4096, null);
    QueuePair qp = ConformanceFixture.createQp(s, QpType.UD, CAP, true);
    await(QpConnect.ud(qp, 1, QKEY, 0));
    SharedReceiveQueue srq = await(s.pd.createSrq(new SrqAttr(16, 1, 0), null, null));
    AddressHandle ah = s.pd.createAh(s.lidPath());
    f.removeDevice(s.dev);
    assertEquals(DeviceState.UNREGISTERED, s.dev.state());
    return new Leftovers(s.dev, s.pd, s.cq, qp, srq, ah, s);
  }

  // ---- after unregistration: DeviceUnregisteredException ----

  @Test
  @DisplayName("after its device was unregistered, a QP's postSend and postRecv fail with DeviceUnregisteredException")
  void qpPostsAfterUnregistration() throws Exception {
    Leftovers l = leaveObjectsAndRemoveDevice();
    assertAll(
        () -> assertThrows(DeviceUnregisteredException.class,
            () -> l.qp().postSend(SendWr.udSend(1, 0, l.ah(), 0x10, QKEY, Sge.of(l.side().mr, 0, 8))), "postSend"),
        () -> assertThrows(DeviceUnregisteredException.class,
            () -> l.qp().postRecv(RecvWr.of(2, Sge.of(l.side().mr, 0, 64))), "postRecv"));
  }

  @Test
  @DisplayName("after its device was unregistered, a CQ's poll and requestNotify fail with DeviceUnregisteredException")
  void cqVerbsAfterUnregistration() throws Exception {
    Leftovers l = leaveObjectsAndRemoveDevice();
    assertAll(
        () -> assertThrows(DeviceUnregisteredException.class, () -> l.cq().poll(new WorkCompletion[4]),
            "poll(WorkCompletion[])"),
        () -> assertThrows(DeviceUnregisteredException.class, () -> l.cq().poll(), "poll()"),
        () -> assertThrows(DeviceUnregisteredException.class, () -> l.cq().requestNotify(CqNotify.NEXT_COMP, false),
            "requestNotify"));
  }

  @Test
  @DisplayName("after its device was unregistered, an SRQ's postRecv fails with DeviceUnregisteredException")
  void srqPostAfterUnregistration() throws Exception {
    Leftovers l = leaveObjectsAndRemoveDevice();
    assertThrows(DeviceUnregisteredException.class,
        () -> l.srq().postRecv(RecvWr.of(1, Sge.of(l.side().mr, 0, 64))), "SRQ postRecv");
  }

  // ---- destroyed objects ----

  @Test
  @DisplayName("once srq.destroy() completed, srq.postRecv is refused (PostException INVALID or ObjectDestroyedException)")
  void srqPostAfterDestroy() throws Exception {
    ConformanceFixture.Side s = f.side(64, 4096, null);
    SharedReceiveQueue srq = await(s.pd.createSrq(new SrqAttr(16, 1, 0), null, null));
    await(srq.destroy());
    RuntimeException refused = assertThrows(RuntimeException.class,
        () -> srq.postRecv(RecvWr.of(1, Sge.of(s.mr, 0, 64))), "postRecv on a destroyed SRQ");
    assertTrue(refused instanceof ObjectDestroyedException
            || (refused instanceof PostException p && p.reason() == PostException.Reason.INVALID),
        () -> "refused with " + refused);
  }

  @Test
  @DisplayName("a UD postSend racing ah.destroy() fails only with PostException, and the QP's driver keeps working")
  void udPostRacingAhDestroy() throws Exception {
    ConformanceFixture.Side a = f.side(4096, 4096, null);
    ConformanceFixture.Side b = f.side(64, 4096, null);
    ConformanceFixture.createQp(a, QpType.UD, new QpCap(256, 16, 1, 1, 0), true);
    ConformanceFixture.createQp(b, QpType.UD, CAP, true);
    await(QpConnect.ud(a.qp, 1, QKEY, 0));
    await(QpConnect.ud(b.qp, 1, QKEY, 0));

    AtomicReference<AddressHandle> published = new AtomicReference<>();
    AtomicBoolean stop = new AtomicBoolean();
    ConcurrentLinkedQueue<Throwable> unexpected = new ConcurrentLinkedQueue<>();
    Thread destroyer = new Thread(() -> {
      while (!stop.get()) {
        AddressHandle ah = published.getAndSet(null);
        if (ah == null) {
          Thread.onSpinWait();
          continue;
        }
        try {
          ah.destroy();
        } catch (Throwable t) {
          unexpected.add(t);
        }
      }
    }, "ah-destroyer");
    destroyer.start();
    int posted = 0;
    int completed = 0;
    WorkCompletion[] batch = new WorkCompletion[64];
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
    try {
      for (int i = 0; i < 20_000 && System.nanoTime() < end; i++) {
        AddressHandle ah = a.pd.createAh(b.lidPath());
        published.set(ah);
        try {
          a.qp.postSend(SendWr.udSend(i, 0, ah, b.qp.qpNum(), QKEY, Sge.of(a.mr, 0, 8)));
          posted++;
        } catch (PostException e) {
          // refused (the AH was destroyed first, or the queue is full): allowed
        } catch (RuntimeException e) {
          unexpected.add(e);
        }
        completed += a.cq.poll(batch);
      }
    } finally {
      stop.set(true);
      destroyer.join(DEADLINE_MS);
    }
    int total = posted;
    int alreadyPolled = completed;
    assertAll(
        () -> {
          if (!unexpected.isEmpty()) {
            fail("the race threw " + unexpected.size() + " exception(s) other than PostException, the first: "
                + unexpected.peek(), unexpected.peek());
          }
        },
        () -> assertDriverStillWorks(a, b, total, alreadyPolled));
  }

  /**
   * Every one of the {@code posted} sends of the race completes (successfully, or with an error if its AH was
   * gone when it executed); then, back in RTS if a send error moved it to SQE, a send with a fresh AH completes
   * and is received.
   */
  private static void assertDriverStillWorks(ConformanceFixture.Side a, ConformanceFixture.Side b, int posted, int alreadyPolled)
      throws Exception {
    WorkCompletion[] batch = new WorkCompletion[64];
    int[] seen = {alreadyPolled};
    awaitTrue(() -> "completions of the " + posted + " sends posted during the race (got " + seen[0] + "; "
        + a.qp + ")", () -> (seen[0] += a.cq.poll(batch)) >= posted);
    if (a.qp.state() == QpState.SQE) {
      await(a.qp.modify(QpAttr.builder().qpState(QpState.RTS).build(), QpAttrMask.STATE));
    }
    AddressHandle fresh = a.pd.createAh(b.lidPath());
    b.qp.postRecv(RecvWr.of(77, Sge.of(b.mr, 0, 64)));
    a.qp.postSend(SendWr.udSend(1_000_000, SendFlags.SIGNALED, fresh, b.qp.qpNum(), QKEY, Sge.of(a.mr, 0, 8)));
    WorkCompletion last = ConformanceFixture.pollOne(a.cq);
    assertEquals(1_000_000, last.wrId(), () -> "the send with a fresh AH after the race: " + last);
    assertEquals(WcStatus.SUCCESS, last.status(), () -> "the send with a fresh AH after the race: " + last);
    assertEquals(77, ConformanceFixture.pollOne(b.cq).wrId(), "its receive");
  }

  // ---- drains whose QP or device goes away ----

  /**
   * A UD QP on an SRQ, with an ACTOR CQ, whose event handler blocks on QP_LAST_WQE_REACHED until the test
   * releases it. The driver raises that event while it applies the move to ERR that starts a drain, so the drain is
   * held at its first step for as long as the test wants.
   */
  private record DrainSubject(Device dev, QueuePair qp, ProtectionDomain pd, HeldCallbacks held) {}

  private DrainSubject drainSubject() throws Exception {
    ConformanceFixture.Side s = f.side(64, 4096, null);
    CompletionQueue cq = await(s.dev.allocCq(64, PollContext.ACTOR));
    SharedReceiveQueue srq = await(s.pd.createSrq(new SrqAttr(16, 1, 0), null, null));
    HeldCallbacks held = new HeldCallbacks(1);
    QueuePair qp = await(s.pd.createQp(new QpInitAttr(QpType.UD, cq, cq, CAP, true, e -> {
      if (e.type() == AsyncEventType.QP_LAST_WQE_REACHED) {
        held.hold();
      }
    }, null).withSrq(srq)));
    await(QpConnect.ud(qp, 1, QKEY, 0));
    return new DrainSubject(s.dev, qp, s.pd, held);
  }

  @Test
  @DisplayName("a drainSq pending when its QP is destroyed completes or fails with a typed error within the deadline")
  void drainPendingWhenQpDestroyed() throws Exception {
    kit().expectViolations(Check.BLOCKING); // the QP's event handler holds the drain, on purpose
    DrainSubject d = drainSubject();
    int pdUsers = d.pd().useCount();
    CompletionStage<?> drain;
    CompletionStage<?> destroy;
    try {
      drain = d.qp().drainSq();
      assertTrue(d.held().awaitEntered(DEADLINE_MS), "the drain's move to ERR reached the driver");
      destroy = d.qp().destroy();
      // The QP is torn down (its PD released) while the drain still waits for its first step.
      awaitTrue("the teardown of " + d.qp(), () -> d.pd().useCount() < pdUsers);
    } finally {
      d.held().releaseOnceParked();
    }
    await(destroy);
    HostileConsumerContract.settles(drain, "drainSq of " + d.qp() + ", destroyed while the drain was pending");
    assertBlockingSeen();
  }

  @Test
  @DisplayName("a drainSq pending when its device is unregistered completes or fails with a typed error within the "
      + "deadline")
  void drainPendingWhenDeviceUnregistered() throws Exception {
    kit().expectViolations(Check.BLOCKING); // the QP's event handler holds the drain, on purpose
    DrainSubject d = drainSubject();
    int pdUsers = d.pd().useCount();
    CompletionStage<?> drain;
    CompletionStage<?> removal;
    try {
      drain = d.qp().drainSq();
      assertTrue(d.held().awaitEntered(DEADLINE_MS), "the drain's move to ERR reached the driver");
      removal = java.util.concurrent.CompletableFuture.runAsync(() -> f.removeDevice(d.dev()));
      // The unregistration reclaims the QP (its PD released) while the drain still waits for its first step.
      awaitTrue("the reclaim of " + d.qp(), () -> d.pd().useCount() < pdUsers);
    } finally {
      d.held().releaseOnceParked();
    }
    await(removal);
    HostileConsumerContract.settles(drain, "drainSq of " + d.qp() + ", whose device was unregistered while it was pending");
    assertBlockingSeen();
  }

  /** The monitor saw the handler that held the drain block (BlockHound is active in the build's tests). */
  private void assertBlockingSeen() {
    awaitTrue(() -> "the monitor to report the blocking handler: " + kit().monitor().report(),
        () -> !kit().monitor().violations(Check.BLOCKING).isEmpty());
  }
}

package dev.midlayer.testkit.conformance;

import static dev.midlayer.testkit.conformance.ConformanceFixture.await;
import static dev.midlayer.testkit.conformance.ConformanceFixture.awaitTrue;
import static dev.midlayer.testkit.conformance.ConformanceFixture.backOff;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.midlayer.Midlayer;
import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.context.AtomicContext;
import dev.midlayer.cq.CompletionQueue;
import dev.midlayer.cq.CqNotify;
import dev.midlayer.device.Device;
import dev.midlayer.device.DeviceState;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpAttrMask;
import dev.midlayer.ib.QpCap;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.QpConnect;
import dev.midlayer.verbs.QueuePair;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * Registration and hot-unplug under load: a device is removed while a ULP's QPs on it carry traffic, and every
 * posted WR of a QP that lives until its CQ is drained ends in exactly one completion (successes, then the
 * one transport error, then the flushes, each counted).
 *
 * <p>Seed rules: C11 (a device is announced only once initialised), C12 (usable until its unregistration
 * returns), C13 (register and unregister without deadlock, under load), C14 (clients use the device from
 * their add), C15 (cleanup finished before remove returns), C16 (add and remove may sleep). Under traffic
 * every posted WR ends in exactly one completion, the flushed ones counted.
 */
public abstract class HotUnplugContract extends DriverContract {
  /**
   * The ULP of the hot-unplug test: it owns the objects on the responder device (given to it by the test),
   * and in its {@code remove} it stops its receive thread, moves its QP to ERR, polls its CQ until every
   * receive it ever posted has completed, and only then destroys the QP, CQ, MR and PD.
   */
  private static final class DrainingUlp implements Client {
    final Map<Device, Responder> responders = new ConcurrentHashMap<>();
    final AtomicInteger removes = new AtomicInteger();
    final ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();

    @Override
    public String name() {
      return "dp-draining-ulp";
    }

    @Override
    public boolean add(Device device, ClientId self) {
      return true;
    }

    @Override
    public void remove(Device device, ClientId self, Object clientData) throws Exception {
      removes.incrementAndGet();
      Responder r = responders.remove(device);
      if (r != null) {
        try {
          r.drainAndDestroy(problems);
        } catch (Exception | AssertionError e) {
          problems.add("remove of " + device.name() + " failed: " + e);
          throw e;
        }
      }
    }
  }

  /** The responder side of the hot-unplug test: a thread that re-posts receives and keeps a ledger. */
  private static final class Responder {
    final ConformanceFixture.Side side;
    /** The QP's send CQ (its receive completions go to {@code side.cq}). */
    CompletionQueue sendCq;
    final AtomicBoolean stop = new AtomicBoolean();
    final AtomicLong posted = new AtomicLong();
    final AtomicIntegerArray seen = new AtomicIntegerArray(1 << 20);
    final List<WcStatus> statusesInOrder = new ArrayList<>(); // only touched by one thread at a time
    volatile Thread thread;
    volatile boolean drainedBeforeDestroy;
    volatile Throwable failure;

    Responder(ConformanceFixture.Side side) {
      this.side = side;
    }

    void post() {
      long id = posted.getAndIncrement();
      side.qp.postRecv(RecvWr.of(id, Sge.of(side.mr, 64L * (id % 128), 64)));
    }

    long completed() {
      return statusesInOrder.size();
    }

    void record(WorkCompletion wc) {
      if (seen.getAndIncrement((int) wc.wrId()) != 0) {
        throw new AssertionError("receive " + wc.wrId() + " completed twice");
      }
      statusesInOrder.add(wc.status());
    }

    void start() {
      for (int i = 0; i < 128; i++) {
        post();
      }
      thread = new Thread(() -> {
        try {
          WorkCompletion[] batch = new WorkCompletion[16];
          int spins = 0;
          while (!stop.get()) {
            int k = side.cq.poll(batch);
            for (int i = 0; i < k; i++) {
              record(batch[i]);
              if (batch[i].ok()) {
                post();
              }
            }
            spins = k > 0 ? 0 : spins + 1;
            backOff(spins);
          }
        } catch (Throwable e) {
          failure = e;
        }
      }, "responder");
      thread.setDaemon(true);
      thread.start();
    }

    /** Runs in the client's remove (may sleep there): stop, ERR, drain, then destroy. */
    void drainAndDestroy(ConcurrentLinkedQueue<String> problems) throws Exception {
      stop.set(true);
      thread.join(ConformanceFixture.DEADLINE_MS);
      await(side.qp.modify(QpAttr.builder().qpState(QpState.ERR).build(), QpAttrMask.STATE));
      long deadline = Workers.deadline();
      WorkCompletion[] batch = new WorkCompletion[16];
      int spins = 0;
      while (completed() < posted.get()) {
        int k = side.cq.poll(batch);
        for (int i = 0; i < k; i++) {
          record(batch[i]);
        }
        if (System.nanoTime() > deadline) {
          problems.add("drain: only " + completed() + " of " + posted.get() + " receives completed");
          break;
        }
        backOff(k > 0 ? (spins = 0) : spins++);
      }
      drainedBeforeDestroy = completed() == posted.get();
      await(side.qp.destroy());
      await(sendCq.destroy());
      await(side.cq.destroy());
      await(side.mr.deregister());
      await(side.pd.dealloc());
    }
  }

  @Test
  @DisplayName("device removal under traffic: every WR of a QP that lives until its CQ is drained completes exactly once")
  void deviceRemovalUnderTraffic() throws Exception {
    // What is asserted, and why it is well-defined: the responder's ULP destroys its QP only after moving
    // it to ERR and polling until every receive it posted has completed, so each of those receives must
    // complete exactly once (SUCCESS, then WR_FLUSH_ERR for the rest). The requester's QP on the other device
    // lives to the end of the test and its CQ is drained by the test, so each send posted on it must
    // complete exactly once: SUCCESS for a prefix, then RETRY_EXC_ERR once (the peer went silent), then
    // WR_FLUSH_ERR, in posting order. Nothing is asserted for WRs of QPs destroyed before being drained.
    DrainingUlp ulp = new DrainingUlp();
    Midlayer midlayer = kit().midlayer();
    await(midlayer.registerClient(ulp));
    Device devA = f.addDevice();
    Device devB = f.addDevice();
    ConformanceFixture.Side a = f.side(devA, 1 << 15, 4096, null);
    ConformanceFixture.Side b = f.side(devB, 256, 1 << 14, null);
    QueuePair qa = ConformanceFixture.createQp(a, QpType.RC, new QpCap(64, 1, 1, 1, 0), true);
    // B's QP has its own send CQ and receive CQ (one CQ for both would hit the bug shown by
    // DpFlushTest#destroyedQpReleasesItsSharedCq when the ULP destroys it).
    CompletionQueue bSendCq = await(devB.createCq(16, null, null, null));
    b.qp = await(b.pd.createQp(new dev.midlayer.verbs.QpInitAttr(QpType.RC, bSendCq, b.cq,
        new QpCap(1, 128, 1, 1, 0), true, null, null)));
    // Timeout 22 (about 17 ms at scale 0.001) and 7 retries: the requester gives up about 150 ms after the
    // responder went silent, and never before (no ACK is lost on the loopback fabric).
    QpConnect.Params p = QpConnect.Params.defaults().withRetries(22, 7, 7, 1);
    ConformanceFixture.connect(a, b, p, p);
    Responder responder = new Responder(b);
    responder.sendCq = bSendCq;
    ulp.responders.put(devB, responder);
    responder.start();

    AtomicLong sent = new AtomicLong();
    AtomicBoolean posterDone = new AtomicBoolean();
    List<WorkCompletion> requesterWcs = new ArrayList<>();
    AtomicIntegerArray sendSeen = new AtomicIntegerArray(1 << 20);
    Workers w = new Workers();
    long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(2 * ConformanceFixture.DEADLINE_MS);
    w.start("requester-poster", () -> {
      // Posts until the QP is in ERR, then a few more (flushed as posted in ERR).
      int extra = 0;
      while (extra < 3 && !w.aborted()) {
        if (qa.state() == QpState.ERR) {
          extra++;
        }
        Workers.postSendRetrying(qa, SendWr.send(sent.get(), 0, Sge.of(a.mr, 0, 16)), w, end);
        sent.incrementAndGet();
      }
      posterDone.set(true);
    });
    AtomicInteger successes = new AtomicInteger();
    w.start("requester-poller", () -> {
      WorkCompletion[] batch = new WorkCompletion[16];
      int spins = 0;
      while (!(posterDone.get() && requesterWcs.size() == sent.get()) && !w.aborted()) {
        int k = a.cq.poll(batch);
        for (int i = 0; i < k; i++) {
          WorkCompletion wc = batch[i];
          if (sendSeen.getAndIncrement((int) wc.wrId()) != 0) {
            throw new AssertionError("send " + wc.wrId() + " completed twice");
          }
          requesterWcs.add(wc);
          if (wc.ok()) {
            successes.incrementAndGet();
          }
        }
        if (k == 0 && System.nanoTime() > end) {
          throw new AssertionError("requester: " + requesterWcs.size() + " of " + sent.get() + " completed");
        }
        backOff(k > 0 ? (spins = 0) : spins++);
      }
    });

    awaitTrue(() -> "traffic to flow (" + successes.get() + " sends done)", () -> successes.get() >= 500
        || w.aborted());
    f.removeDevice(devB);
    assertEquals(1, ulp.removes.get(), "remove once, for the responder's device");
    assertEquals(DeviceState.UNREGISTERED, devB.state());
    assertFalse(f.devices().contains(devB));
    w.join();

    assertTrue(ulp.problems.isEmpty(), ulp.problems::toString);
    assertTrue(responder.failure == null, () -> "responder thread: " + responder.failure);
    // Responder: every receive completed once, SUCCESS first, then only WR_FLUSH_ERR, before the destroy.
    assertTrue(responder.drainedBeforeDestroy, "the ULP destroyed its QP before every receive completed");
    for (long i = 0; i < responder.posted.get(); i++) {
      assertEquals(1, responder.seen.get((int) i), "receive " + i);
    }
    assertOrderedOutcomes(responder.statusesInOrder, WcStatus.SUCCESS, null, "responder");
    // Requester: every send completed once, in posting order, SUCCESS* RETRY_EXC_ERR WR_FLUSH_ERR*.
    assertEquals(sent.get(), requesterWcs.size());
    List<WcStatus> statuses = new ArrayList<>();
    for (int i = 0; i < requesterWcs.size(); i++) {
      assertEquals(i, requesterWcs.get(i).wrId(), "requester completions in posting order");
      statuses.add(requesterWcs.get(i).status());
    }
    assertOrderedOutcomes(statuses, WcStatus.SUCCESS, WcStatus.RETRY_EXC_ERR, "requester");
    long responderSuccesses = responder.statusesInOrder.stream().filter(s -> s == WcStatus.SUCCESS).count();
    assertTrue(successes.get() <= responderSuccesses,
        "every send the requester saw succeed was received: " + successes.get() + " > " + responderSuccesses);
    assertTrue(successes.get() >= 500, "traffic flowed before the removal");
  }

  /** {@code statuses} is ok*, then {@code error} exactly once (if not null), then only WR_FLUSH_ERR. */
  private static void assertOrderedOutcomes(List<WcStatus> statuses, WcStatus ok, WcStatus error, String who) {
    int i = 0;
    while (i < statuses.size() && statuses.get(i) == ok) {
      i++;
    }
    if (error != null) {
      int at = i;
      assertTrue(at < statuses.size() && statuses.get(at) == error, () -> who + ": expected " + error + " after "
          + at + " successes, got " + (at < statuses.size() ? statuses.get(at) : "nothing"));
      i++;
    }
    for (; i < statuses.size(); i++) {
      assertEquals(WcStatus.WR_FLUSH_ERR, statuses.get(i), who + " completion " + i);
    }
  }
}

package dev.midlayer.testkit.broken;

import com.typesafe.config.Config;
import dev.midlayer.device.Device;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.internal.CallbackGuard;
import dev.midlayer.internal.CallbackWatch;
import dev.midlayer.internal.cq.CqImpl;
import dev.midlayer.internal.verbs.QpDriverSide;
import dev.midlayer.spi.DeviceOps;
import dev.midlayer.spi.DriverQp;
import dev.midlayer.spi.QpContext;
import dev.midlayer.spi.RecvWqe;
import dev.midlayer.spi.SendWqe;
import dev.midlayer.spi.WorkQueue;
import dev.midlayer.testkit.MidlayerTestKit;
import dev.midlayer.testkit.conformance.DriverUnderTest;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.UnaryOperator;
import org.apache.pekko.actor.typed.ActorRef;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Five deliberately broken drivers, each the loopback driver with one rule of the contract broken, to prove that
 * the conformance suite and the contract monitor catch each for its own reason:
 * <ol>
 *   <li>{@link #INLINE_COMPLETION}: completes sends inside {@code postSend} (C8: not deferred);
 *   <li>{@link #CONCURRENT_HANDLERS}: calls a CQ's completion handler itself, from its own thread, besides the
 *       midlayer's CQ actor, as a kernel driver calling {@code cq->comp_handler} on two CPUs would (C9);
 *   <li>{@link #BLOCKING_POST}: parks in {@code postSend}'s doorbell (C1: never sleeps);
 *   <li>{@link #DOUBLE_COMPLETION}: completes every successful send twice (exactly once);
 *   <li>{@link #LOST_FLUSH}: drops the flush completions of outstanding WRs when a QP enters ERR (exactly once).
 * </ol>
 * Each is a decorator of the loopback driver's ops ({@code LoopbackFabric.addDevice(name, ports, decorate)}).
 * Test code: the second reaches into the midlayer's internals, because no driver can do that through the SPI.
 */
public enum BrokenDrivers {
  INLINE_COMPLETION {
    @Override
    DriverQp wrap(QpContext qp, DriverQp real) {
      return new ForwardingDriverQp(real) {
        @Override
        public void sendDoorbell() {
          // Broken: the completion is written on the poster's thread, inside postSend.
          WorkQueue<SendWqe> sq = qp.sendQueue();
          do {
            for (SendWqe w = sq.take(); w != null; w = sq.take()) {
              qp.completeSend(w, WcStatus.SUCCESS);
            }
          } while (sq.idle());
        }
      };
    }
  },
  CONCURRENT_HANDLERS {
    @Override
    QpContext context(QpContext qp) {
      java.util.concurrent.atomic.AtomicBoolean once = new java.util.concurrent.atomic.AtomicBoolean();
      return new ForwardingQpContext(qp) {
        @Override
        public boolean completeRecv(RecvWqe wqe, dev.midlayer.ib.WcOpcode opcode, int byteLen, int srcQp, int slid,
            int wcFlags, int immData, int invalidatedRkey, boolean solicited) {
          boolean ok = super.completeRecv(wqe, opcode, byteLen, srcQp, slid, wcFlags, immData, invalidatedRkey,
              solicited);
          if (once.compareAndSet(false, true)) {
            callHandlerItself(((QpDriverSide) qp).qp().recvCq());
          }
          return ok;
        }

        @Override
        public boolean completeRecvError(RecvWqe wqe, WcStatus status) {
          boolean ok = super.completeRecvError(wqe, status);
          if (once.compareAndSet(false, true)) {
            callHandlerItself(((QpDriverSide) qp).qp().recvCq());
          }
          return ok;
        }

        @Override
        public boolean completeSend(SendWqe wqe, WcStatus status) {
          boolean ok = super.completeSend(wqe, status);
          if (once.compareAndSet(false, true)) {
            callHandlerItself(((QpDriverSide) qp).qp().sendCq());
          }
          return ok;
        }
      };
    }
  },
  BLOCKING_POST {
    @Override
    DriverQp wrap(QpContext qp, DriverQp real) {
      return new ForwardingDriverQp(real) {
        @Override
        public void sendDoorbell() {
          LockSupport.parkNanos(100_000); // broken: a doorbell that waits (a lock, a syscall, a full ring)
          super.sendDoorbell();
        }
      };
    }
  },
  DOUBLE_COMPLETION {
    @Override
    QpContext context(QpContext qp) {
      return new ForwardingQpContext(qp) {
        @Override
        public boolean completeSend(SendWqe wqe, WcStatus status) {
          boolean ok = super.completeSend(wqe, status);
          if (status == WcStatus.SUCCESS) {
            super.completeSend(wqe, status); // broken: the same work request completes again
          }
          return ok;
        }
      };
    }
  },
  LOST_FLUSH {
    @Override
    QpContext context(QpContext qp) {
      return new ForwardingQpContext(qp) {
        @Override
        public boolean completeSend(SendWqe wqe, WcStatus status) {
          return status == WcStatus.WR_FLUSH_ERR || super.completeSend(wqe, status); // broken: flush dropped
        }

        @Override
        public boolean completeRecvError(RecvWqe wqe, WcStatus status) {
          return status == WcStatus.WR_FLUSH_ERR || super.completeRecvError(wqe, status);
        }
      };
    }
  };

  private static final Logger log = LoggerFactory.getLogger(BrokenDrivers.class);

  /** The driver's QP context: what its engine sees of the QP (the midlayer's, unless this breaks it). */
  QpContext context(QpContext qp) {
    return qp;
  }

  /** The driver's QP: the loopback engine's, unless this breaks it. */
  DriverQp wrap(QpContext qp, DriverQp real) {
    return real;
  }

  /** The device name pattern, e.g. {@code "inline_completion%d"}. */
  public String devicePattern() {
    return name().toLowerCase() + "%d";
  }

  /** This broken driver as a conformance suite sees it (the loopback driver's configuration and link control). */
  public DriverUnderTest asDriverUnderTest() {
    DriverUnderTest loopback = DriverUnderTest.loopback();
    BrokenDrivers self = this;
    return new DriverUnderTest() {
      @Override
      public String name() {
        return "loopback-" + self.name().toLowerCase();
      }

      @Override
      public Config config() {
        return loopback.config();
      }

      @Override
      public Device addDevice(MidlayerTestKit kit, int ports) {
        return MidlayerTestKit.await(kit.fabric().addDevice(devicePattern(), ports, decorator())).device();
      }

      @Override
      public void removeDevice(MidlayerTestKit kit, Device device) {
        loopback.removeDevice(kit, device);
      }
    };
  }

  /** Decorates the loopback driver's ops with this breakage. */
  public UnaryOperator<DeviceOps> decorator() {
    return ops -> DeviceOps.builder(ops.driverName() + "-" + name().toLowerCase())
        .queryDevice(ops.queryDevice())
        .queryPort(ops.queryPort())
        .enableDriver(ops.enableDriver())
        .deallocDriver(ops.deallocDriver())
        .memoryFence(ops.memoryFence())
        .createQp((qp, spawner) -> {
          QpContext seen = context(qp);
          return wrap(qp, ops.createQp().createQp(seen, spawner));
        })
        .build();
  }

  /**
   * What a kernel driver calling {@code cq->comp_handler} directly does: the handler, on this thread, now. The
   * handler is private to the midlayer (no driver can reach it through the SPI), hence the reflection.
   */
  private static void callHandlerItself(CqImpl cq) {
    dev.midlayer.cq.CompletionHandler handler;
    try {
      java.lang.reflect.Method h = CqImpl.class.getDeclaredMethod("handler");
      h.setAccessible(true);
      handler = (dev.midlayer.cq.CompletionHandler) h.invoke(cq);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException(e);
    }
    if (handler == null) {
      return;
    }
    // Two calls at once, for certain: this thread and another enter the guard, and both wait for each other
    // before running the handler (as two CPUs taking the same CQ's interrupt would).
    CyclicBarrier both = new CyclicBarrier(2);
    Runnable call = () -> {
      CallbackWatch watch = cq.device().watchdog().watch();
      try {
        CallbackGuard.call(cq.device().monitor(), cq, cq.device(), cq.owner(), watch,
            "completion handler of " + cq + " (called by the broken driver)", null, log, () -> {
              try {
                both.await(10, TimeUnit.SECONDS);
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
              handler.onCompletion(cq);
            });
      } finally {
        cq.device().watchdog().forget(watch);
      }
    };
    // Its own thread for the second call: a shared pool's worker may be busy, and the barrier would wait.
    Thread second = new Thread(call, "broken-driver-second-handler");
    second.setDaemon(true);
    second.start();
    call.run();
  }

  /** A {@link DriverQp} that forwards everything to the loopback engine's. */
  static class ForwardingDriverQp implements DriverQp {
    final DriverQp real;

    ForwardingDriverQp(DriverQp real) {
      this.real = real;
    }

    @Override
    public void sendDoorbell() {
      real.sendDoorbell();
    }

    @Override
    public void flushDoorbell() {
      real.flushDoorbell();
    }

    @Override
    public CompletionStage<?> modified(QpState from, QpState to, QpAttr attr, int mask) {
      return real.modified(from, to, attr, mask);
    }

    @Override
    public void destroy() {
      real.destroy();
    }

    @Override
    public boolean supports(WrOpcode opcode) {
      return real.supports(opcode);
    }

    @Override
    public ActorRef<?> actor() {
      return real.actor();
    }
  }
}

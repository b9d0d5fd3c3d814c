package dev.midlayer.internal.cq;

import dev.midlayer.internal.CallbackGuard;
import dev.midlayer.internal.CallbackWatch;
import dev.midlayer.internal.LogMdc;
import dev.midlayer.cq.CompletionHandler;
import dev.midlayer.cq.CqNotify;
import dev.midlayer.cq.PollContext;
import dev.midlayer.internal.verbs.QpImpl;
import dev.midlayer.ib.AsyncEventType;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.internal.NonFatal;
import dev.midlayer.verbs.WorkCompletion;
import java.util.Map;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

/**
 * Internal API. The actor of one {@link CqImpl}: the only place its completion handler, its
 * per-WR {@code done} callbacks and its event handler are called, so none of them ever runs concurrently
 * with itself, and none runs in the call chain of a verb. Runs on the consumer-callback dispatcher, never on
 * the threads of the drivers' engines; every call into consumer code is guarded ({@link CallbackGuard}) and
 * watched by the callback watchdog.
 */
final class CqActor extends AbstractBehavior<CqActor.Command> {

  /** Messages of a CQ actor; each is a singleton, so telling one allocates nothing. */
  enum Command {
    /** An armed CQ got a matching completion. */
    NOTIFIED,
    /** ACTOR poll context: more completions may be waiting; poll on. */
    CONTINUE,
    /** A completion did not fit. */
    OVERFLOWED,
    /** The CQ was destroyed. */
    STOP
  }

  static final Command NOTIFIED = Command.NOTIFIED;
  static final Command OVERFLOWED = Command.OVERFLOWED;
  static final Command STOP = Command.STOP;

  static Behavior<Command> create(CqImpl cq, int budget) {
    // The CQ's device and client on every line it logs, the lines of the consumer's callbacks included. Static:
    // the map is built once, not per NOTIFIED or CONTINUE of the data path.
    Map<String, String> mdc = cq.owner() == null ? Map.of(LogMdc.DEVICE, cq.device().name())
        : Map.of(LogMdc.DEVICE, cq.device().name(), LogMdc.CLIENT, cq.owner().toString());
    return Behaviors.withMdc(Command.class, mdc, Behaviors.setup(ctx -> new CqActor(ctx, cq, budget)));
  }

  private final CqImpl cq;
  private final int budget;
  private final String handlerName;
  private final String eventHandlerName;
  private final WorkCompletion[] batch = new WorkCompletion[dev.midlayer.cq.CompletionQueue.POLL_BATCH];
  private final CallbackWatch watch;
  private boolean warnedNullCqe;

  private CqActor(ActorContext<Command> ctx, CqImpl cq, int budget) {
    super(ctx);
    this.cq = cq;
    this.budget = budget;
    this.watch = cq.device().watchdog().watch();
    String where = " of CQ #" + cq.number() + " on " + cq.device().name()
        + (cq.owner() == null ? "" : " (" + cq.owner() + ")");
    this.handlerName = (cq.pollContext() == PollContext.ACTOR ? "done callbacks" : "completion handler") + where;
    this.eventHandlerName = "event handler" + where;
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessageEquals(Command.NOTIFIED, this::onNotified)
        .onMessageEquals(Command.CONTINUE, this::pollBudget)
        .onMessageEquals(Command.OVERFLOWED, this::onOverflowed)
        .onMessageEquals(Command.STOP, Behaviors::stopped)
        .onSignal(PostStop.class, signal -> {
          cq.device().watchdog().forget(watch);
          return Behaviors.same();
        })
        .build();
  }

  private Behavior<Command> onNotified() {
    if (cq.destroyed()) {
      return Behaviors.same(); // destroyed: STOP is next in the mailbox, and no callback runs any more
    }
    if (cq.pollContext() == PollContext.ACTOR) {
      return pollBudget();
    }
    CompletionHandler handler = cq.handler();
    if (handler != null) {
      CallbackGuard.call(cq.device().monitor(), cq, cq.device(), cq.owner(), watch, handlerName, null,
          getContext().getLog(), () -> handler.onCompletion(cq));
    }
    return Behaviors.same();
  }

  /** The ib_cq loop: batches of 16, at most {@code budget}, then re-arm and continue if anything was missed. */
  private Behavior<Command> pollBudget() {
    if (cq.destroyed()) {
      return Behaviors.same();
    }
    int[] done = {0};
    CallbackGuard.call(cq.device().monitor(), cq, cq.device(), cq.owner(), watch, handlerName, null,
        getContext().getLog(), () -> {
      while (done[0] < budget) {
        int n = cq.poll(batch, Math.min(batch.length, budget - done[0]));
        for (int i = 0; i < n; i++) {
          WorkCompletion wc = batch[i];
          batch[i] = null;
          deliver(wc);
        }
        done[0] += n;
        if (n < batch.length) {
          break;
        }
      }
    });
    if (done[0] >= budget || cq.requestNotify(CqNotify.NEXT_COMP, true)) {
      getContext().getSelf().tell(Command.CONTINUE);
    }
    return Behaviors.same();
  }

  private void deliver(WorkCompletion wc) {
    if (wc.cqe() == null) {
      if (wc.status() == WcStatus.SUCCESS && !warnedNullCqe) {
        warnedNullCqe = true;
        getContext().getLog().warn("{}: a successful completion (wr_id {}) has no Cqe; skipped (this warning "
            + "is logged once)", handlerName, wc.wrId());
      }
      return;
    }
    try {
      wc.cqe().done(cq, wc);
    } catch (Throwable e) {
      getContext().getLog().error("{}: done callback of wr_id {} threw", handlerName, wc.wrId(),
          NonFatal.rethrowIfFatal(e));
    }
  }

  private Behavior<Command> onOverflowed() {
    getContext().getLog().error("CQ #{} on {} overflowed ({} entries): it is in error", cq.number(),
        cq.device().name(), cq.capacity());
    if (cq.eventHandler() != null) {
      CallbackGuard.call(cq.device().monitor(), null, cq.device(), cq.owner(), watch, eventHandlerName, null,
          getContext().getLog(), () -> cq.eventHandler().onEvent(cq.cqErrorEvent()));
    }
    // Per IBA, the QPs of a CQ in error are unusable: each moves to ERR (and flushes) with QP_FATAL.
    for (QpImpl qp : cq.qps()) {
      try {
        qp.fail(AsyncEventType.QP_FATAL);
      } catch (Throwable e) {
        getContext().getLog().error("moving {} to ERR after the overflow of CQ #{} failed", qp, cq.number(),
            NonFatal.rethrowIfFatal(e));
      }
    }
    return Behaviors.same();
  }
}

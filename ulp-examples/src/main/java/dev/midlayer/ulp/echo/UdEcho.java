package dev.midlayer.ulp.echo;

import dev.midlayer.Midlayer;
import dev.midlayer.client.ClientId;
import dev.midlayer.client.ClientMessage;
import dev.midlayer.client.ClientMessage.AddReply;
import dev.midlayer.client.ClientMessage.DeviceAdded;
import dev.midlayer.client.ClientMessage.DeviceRemoved;
import dev.midlayer.cq.Cqe;
import dev.midlayer.device.Device;
import dev.midlayer.ib.SendFlags;
import dev.midlayer.ib.WcStatus;
import dev.midlayer.ib.WrOpcode;
import dev.midlayer.ulp.datagram.DatagramAddress;
import dev.midlayer.verbs.AddressHandle;
import dev.midlayer.verbs.AhFromWc;
import dev.midlayer.verbs.PostException;
import dev.midlayer.verbs.RecvWr;
import dev.midlayer.verbs.SendWr;
import dev.midlayer.verbs.Sge;
import dev.midlayer.verbs.WorkCompletion;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.BehaviorBuilder;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.StashBuffer;

/**
 * The actor template ULP: a UD echo service written as one Pekko typed actor with a protocol of its own. It is a
 * client through a message adapter ({@link Midlayer#registerClient(String, ActorRef)}), makes its verbs objects
 * with stages piped to itself (it never waits for a verb), and gets its work completions as its own messages
 * through {@link Cqe#tell}: every datagram a receive brings is sent back to its sender, through an address handle
 * made from the receive's work completion ({@link AhFromWc}) and destroyed when the echo's send completed.
 *
 * <p>So all of its state (free send slots, address handles, counters) is touched by its actor alone, one message
 * at a time: no atomics, no concurrent queues, none of the care a completion handler's code needs, and the
 * completion handlers the midlayer runs are one {@code tell} each. What it costs: a completion is handled after
 * the CQ's actor moved on, one hand-off later than in a handler.
 *
 * <p>Lifecycle: {@link #create} spawns nothing itself; the behaviour registers the actor as a client when it
 * starts, stashing {@link Stop} and the queries until the registration completed. On {@code DeviceRemoved} it
 * drains the device's QP (every posted WR completes, flushed) before it destroys the objects and replies;
 * {@link Stop} unregisters it (each device removed that way) and then stops the actor. An actor stopped any other
 * way gets no more callbacks (the registry logs a warning) and what it made on a device stays until the device is
 * unregistered, which reclaims it as a leftover.
 */
public final class UdEcho {
  /** Receives posted per device. */
  public static final int RECEIVES = 64;
  /** Echoes in flight per device; a datagram that finds none free is dropped and counted. */
  public static final int SENDS = 32;

  /** The actor's protocol. */
  public sealed interface Command {}

  /** Replies with the address of the service on {@code device}, or empty if it does not run there (yet). */
  public record GetAddress(Device device, ActorRef<Optional<DatagramAddress>> replyTo) implements Command {}

  /** Replies with the {@link Stats} so far. */
  public record GetStats(ActorRef<Stats> replyTo) implements Command {}

  /** Unregisters the client (every device removed from it) and stops the actor, then replies. */
  public record Stop(ActorRef<Done> replyTo) implements Command {}

  /**
   * What the service did.
   *
   * @param echoed datagrams sent back (their send completed successfully)
   * @param dropped datagrams not echoed because every send slot was in flight
   * @param errors work requests that completed in error other than flushed
   * @param outOfOrder send completions that came in another order than their posts (0: a CQ's order holds)
   * @param devices devices it runs on now
   */
  public record Stats(long echoed, long dropped, long errors, long outOfOrder, int devices) {}

  private record FromMidlayer(ClientMessage message) implements Command {}

  private record Registered(ClientId id, Throwable failure) implements Command {}

  private record Opened(DeviceAdded added, EchoEndpoint endpoint, Throwable failure) implements Command {}

  private record Received(Live live, WorkCompletion wc) implements Command {}

  private record Sent(Live live, WorkCompletion wc) implements Command {}

  private record Drained(Live live, DeviceRemoved removed, Throwable failure) implements Command {}

  private record Closed(DeviceRemoved removed, Throwable failure) implements Command {}

  private record Unregistered(Throwable failure) implements Command {}

  /**
   * The echo actor's behaviour: registered as client {@code name}, on the devices {@code devices} accepts, with
   * Q_Key {@code qkey}. Spawn it where the application wants it (a guardian, a parent, {@code ActorTestKit}).
   * Never blocks and spawns nothing; any thread. The actor's turns never block either: every verb's stage is
   * piped back to it as a message.
   */
  public static Behavior<Command> create(Midlayer midlayer, String name, Predicate<Device> devices, int qkey) {
    return Behaviors.setup(ctx -> Behaviors.withStash(16,
        stash -> new UdEcho(midlayer, name, devices, qkey, ctx, stash).registering()));
  }

  private final Midlayer midlayer;
  private final String name;
  private final Predicate<Device> devices;
  private final int qkey;
  private final ActorContext<Command> ctx;
  private final StashBuffer<Command> stash;
  private final Map<Device, Live> live = new HashMap<>();
  private long echoed;
  private long dropped;
  private long errors;
  private long outOfOrder;

  private UdEcho(Midlayer midlayer, String name, Predicate<Device> devices, int qkey, ActorContext<Command> ctx,
      StashBuffer<Command> stash) {
    this.midlayer = midlayer;
    this.name = name;
    this.devices = devices;
    this.qkey = qkey;
    this.ctx = ctx;
    this.stash = stash;
  }

  /** Waiting for the registration; devices are added meanwhile (the registration adds every device first). */
  private Behavior<Command> registering() {
    ActorRef<ClientMessage> client = ctx.messageAdapter(ClientMessage.class, FromMidlayer::new);
    ctx.pipeToSelf(midlayer.registerClient(name, client), Registered::new);
    return dataPath(Behaviors.receive(Command.class))
        .onMessage(Registered.class, r -> {
          if (r.failure() != null) {
            ctx.getLog().error("echo {}: registration failed: {}", name, r.failure().toString());
            return Behaviors.stopped();
          }
          return stash.unstashAll(running(r.id()));
        })
        .onMessage(Command.class, c -> {
          stash.stash(c);
          return Behaviors.same();
        })
        .build();
  }

  /** Registered: answers queries; {@link Stop} unregisters. */
  private Behavior<Command> running(ClientId id) {
    return dataPath(Behaviors.receive(Command.class))
        .onMessage(GetAddress.class, this::onGetAddress)
        .onMessage(GetStats.class, this::onGetStats)
        .onMessage(Stop.class, s -> {
          ctx.pipeToSelf(midlayer.unregisterClient(id), (d, e) -> new Unregistered(e));
          return stopping(new ArrayList<>(List.of(s.replyTo())));
        })
        .build();
  }

  /** Unregistering: the devices are removed one by one; then every {@link Stop} is answered. */
  private Behavior<Command> stopping(List<ActorRef<Done>> waiting) {
    return dataPath(Behaviors.receive(Command.class))
        .onMessage(GetAddress.class, this::onGetAddress)
        .onMessage(GetStats.class, this::onGetStats)
        .onMessage(Stop.class, s -> {
          waiting.add(s.replyTo());
          return Behaviors.same();
        })
        .onMessage(Unregistered.class, u -> {
          if (u.failure() != null) {
            ctx.getLog().warn("echo {}: unregistration failed: {}", name, u.failure().toString());
          }
          waiting.forEach(w -> w.tell(Done.getInstance()));
          return Behaviors.stopped();
        })
        .build();
  }

  /** What every state handles: the midlayer's callbacks, the set-up and tear-down steps, the completions. */
  private BehaviorBuilder<Command> dataPath(BehaviorBuilder<Command> b) {
    return b
        .onMessage(FromMidlayer.class, m -> {
          if (m.message() instanceof DeviceAdded added) {
            onDeviceAdded(added);
          } else if (m.message() instanceof DeviceRemoved removed) {
            onDeviceRemoved(removed);
          }
          return Behaviors.same();
        })
        .onMessage(Opened.class, this::onOpened)
        .onMessage(Received.class, this::onReceived)
        .onMessage(Sent.class, this::onSent)
        .onMessage(Drained.class, this::onDrained)
        .onMessage(Closed.class, c -> {
          if (c.failure() != null) {
            ctx.getLog().warn("echo {}: releasing on {} failed: {}", name, c.removed().device().name(),
                c.failure().toString());
          }
          c.removed().replyTo().tell(Done.getInstance());
          return Behaviors.same();
        });
  }

  private void onDeviceAdded(DeviceAdded added) {
    if (!devices.test(added.device())) {
      added.replyTo().tell(AddReply.declined("not one of the echo's devices"));
      return;
    }
    // The registry waits for the reply, so no DeviceRemoved for this device comes before Opened.
    ctx.pipeToSelf(EchoEndpoint.open(added.device(), qkey, RECEIVES, SENDS),
        (ep, e) -> new Opened(added, ep, e));
  }

  private Behavior<Command> onOpened(Opened o) {
    if (o.failure() != null) {
      o.added().replyTo().tell(AddReply.failed(o.failure()));
      return Behaviors.same();
    }
    Live l = new Live(o.endpoint(), ctx.getSelf());
    try {
      for (RecvWr r : l.receives) {
        l.endpoint.qp().postRecv(r);
      }
    } catch (PostException e) {
      // A fresh QP in RTS takes its receives; if not, the device is going and the reply says why.
      l.closing = true;
      ctx.pipeToSelf(l.endpoint.qp().drainQp().thenCompose(d -> l.endpoint.close()),
          (d, f) -> new Opened(o.added(), null, e));
      return Behaviors.same();
    }
    live.put(o.endpoint().device(), l);
    o.added().replyTo().tell(AddReply.added());
    return Behaviors.same();
  }

  private void onDeviceRemoved(DeviceRemoved removed) {
    Live l = live.get(removed.device());
    if (l == null) {
      removed.replyTo().tell(Done.getInstance());
      return;
    }
    l.closing = true;
    // Every posted WR completes (flushed) before the drain does, and those completions are told before Drained.
    ctx.pipeToSelf(l.endpoint.qp().drainQp(), (d, e) -> new Drained(l, removed, e));
  }

  private Behavior<Command> onDrained(Drained d) {
    if (d.failure() != null) {
      ctx.getLog().warn("echo {}: drain on {} failed: {}", name, d.removed().device().name(), d.failure().toString());
    }
    for (int s = 0; s < SENDS; s++) {
      if (d.live().handles[s] != null) { // only if the drain failed: every send completed otherwise
        d.live().handles[s].destroy();
        d.live().handles[s] = null;
      }
    }
    live.remove(d.removed().device());
    ctx.pipeToSelf(d.live().endpoint.close(), (done, e) -> new Closed(d.removed(), e));
    return Behaviors.same();
  }

  /** A datagram came: send it back to its sender, then post the receive again. */
  private Behavior<Command> onReceived(Received r) {
    Live l = r.live();
    WorkCompletion wc = r.wc();
    if (!wc.ok()) {
      countError(l, wc, "receive");
      return Behaviors.same();
    }
    if (l.closing) {
      return Behaviors.same();
    }
    EchoEndpoint ep = l.endpoint;
    int k = (int) wc.wrId();
    int at = ep.recvOffset(k);
    int length = wc.byteLen() - AhFromWc.GRH_BYTES;
    Integer s = l.freeSends.poll();
    if (s == null) {
      dropped++;
    } else {
      ByteBuffer buf = ep.mr().buffer();
      buf.put(ep.sendOffset(s), buf, at + AhFromWc.GRH_BYTES, length);
      AddressHandle ah = AhFromWc.create(ep.pd(), wc, buf, at);
      SendWr.Builder wr = SendWr.builder(WrOpcode.SEND).wrId((l.nextSeq << 16) | s).cqe(l.sent)
          .flags(SendFlags.SIGNALED).ud(ah, wc.srcQp(), qkey);
      if (length > 0) {
        wr.sge(Sge.of(ep.mr(), ep.sendOffset(s), length));
      }
      try {
        ep.qp().postSend(wr.build());
        l.handles[s] = ah; // kept until the send completed: the address vector of a posted WR stays valid
        l.nextSeq++;
      } catch (PostException e) {
        ah.destroy();
        l.freeSends.push(s);
        dropped++;
      }
    }
    try {
      ep.qp().postRecv(l.receives[k]); // the payload is copied out: the slot takes the next datagram
    } catch (PostException e) {
      ctx.getLog().warn("echo {}: receive on {} not posted again: {}", name, ep.device().name(), e.getMessage());
    }
    return Behaviors.same();
  }

  /** An echo's send completed: its slot and address handle are free. */
  private Behavior<Command> onSent(Sent m) {
    Live l = m.live();
    WorkCompletion wc = m.wc();
    int s = (int) (wc.wrId() & 0xFFFF);
    long seq = wc.wrId() >>> 16;
    if (seq != l.completedSeq) {
      outOfOrder++;
    }
    l.completedSeq = seq + 1;
    if (l.handles[s] != null) {
      l.handles[s].destroy();
      l.handles[s] = null;
    }
    l.freeSends.push(s);
    if (wc.ok()) {
      echoed++;
    } else {
      countError(l, wc, "send");
    }
    return Behaviors.same();
  }

  private void countError(Live l, WorkCompletion wc, String what) {
    if (wc.status() != WcStatus.WR_FLUSH_ERR) {
      errors++;
      ctx.getLog().warn("echo {}: a {} on {} completed with {}", name, what, l.endpoint.device().name(), wc.status());
    }
  }

  private Behavior<Command> onGetAddress(GetAddress g) {
    Live l = live.get(g.device());
    g.replyTo().tell(l == null || l.closing ? Optional.empty() : Optional.of(l.endpoint.address()));
    return Behaviors.same();
  }

  private Behavior<Command> onGetStats(GetStats g) {
    g.replyTo().tell(new Stats(echoed, dropped, errors, outOfOrder, live.size()));
    return Behaviors.same();
  }

  /** The service on one device, touched by the actor alone. */
  private static final class Live {
    final EchoEndpoint endpoint;
    /** The completion callbacks: each completion becomes a message to the actor. */
    final Cqe received;
    final Cqe sent;
    final RecvWr[] receives = new RecvWr[RECEIVES];
    final ArrayDeque<Integer> freeSends = new ArrayDeque<>();
    final AddressHandle[] handles = new AddressHandle[SENDS];
    long nextSeq;
    long completedSeq;
    boolean closing;

    Live(EchoEndpoint endpoint, ActorRef<Command> self) {
      this.endpoint = endpoint;
      this.received = Cqe.tell(self, wc -> new Received(this, wc));
      this.sent = Cqe.tell(self, wc -> new Sent(this, wc));
      for (int k = 0; k < RECEIVES; k++) {
        receives[k] = new RecvWr(k, received, List.of(Sge.of(endpoint.mr(), endpoint.recvOffset(k),
            endpoint.recvSlot())));
      }
      for (int s = 0; s < SENDS; s++) {
        freeSends.add(s);
      }
    }
  }
}

package dev.midlayer.testkit;

import dev.midlayer.client.Client;
import dev.midlayer.client.ClientId;
import dev.midlayer.client.ClientMessage;
import dev.midlayer.device.Device;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * Clients that misbehave on purpose, plain ({@link Client}) and typed ({@code Behavior<ClientMessage>}), for
 * testing that the midlayer (or a ULP sharing the device with them) is not hurt: they throw, leak, or do not
 * finish their remove until the test releases them. Register them with {@code Midlayer.registerClient}. What
 * the midlayer does with each is stated on its factory and checked by {@code HostileClientsTest}.
 *
 * <p>Threading: every factory only builds the client; it never blocks and may be called from any thread. The
 * clients' own add and remove run where the midlayer calls them (where sleeping is allowed), and may sleep or
 * block as each factory says.
 */
public final class HostileClients {
  /** How long a stuck client waits at most for {@link Stuck#release()}, so that a forgotten one cannot hang a run. */
  public static final Duration MAX_STUCK = Duration.ofMinutes(2);

  private HostileClients() {}

  /** A plain client whose add throws: a failed add, so it never gets a remove for that device. */
  public static Client throwingInAdd(String name) {
    return new Plain(name) {
      @Override
      public boolean add(Device device, ClientId self) {
        throw new IllegalStateException(name + ": add fails on purpose");
      }
    };
  }

  /** A plain client that uses every device and throws from remove: logged, and the device goes anyway. */
  public static Client throwingInRemove(String name) {
    return new Plain(name) {
      @Override
      public void remove(Device device, ClientId self, Object clientData) {
        throw new IllegalStateException(name + ": remove fails on purpose");
      }
    };
  }

  /**
   * A plain client that allocates a PD and a CQ on every device in add and never frees them: when its remove
   * returns, the midlayer reports both (naming client, device and object) and reclaims them. Its add blocks until
   * both verbs completed (at most 10 s each).
   */
  public static Client leaking(String name) {
    return new Plain(name) {
      @Override
      public boolean add(Device device, ClientId self) throws Exception {
        leak(device);
        return true;
      }
    };
  }

  /** A typed client that throws while handling {@code DeviceAdded}: its actor stops, which is a failed add. */
  public static Behavior<ClientMessage> typedThrowingInAdd() {
    return Behaviors.receive(ClientMessage.class)
        .onMessage(ClientMessage.DeviceAdded.class, m -> {
          throw new IllegalStateException("a typed client's add fails on purpose");
        })
        .build();
  }

  /**
   * A typed client that allocates a PD and a CQ on every device it is added to and never frees them. Its actor
   * blocks in its turn until both verbs completed (at most 10 s each).
   */
  public static Behavior<ClientMessage> typedLeaking() {
    return Behaviors.receive(ClientMessage.class)
        .onMessage(ClientMessage.DeviceAdded.class, m -> {
          leak(m.device());
          m.replyTo().tell(ClientMessage.AddReply.added());
          return Behaviors.same();
        })
        .onMessage(ClientMessage.DeviceRemoved.class, m -> {
          m.replyTo().tell(Done.getInstance());
          return Behaviors.same();
        })
        .build();
  }

  /**
   * A plain client that sleeps for {@code nap} in every add and every remove (which the seed's C16 allows) and
   * counts the ones it finished, in {@code finished}: registrations and unregistrations wait for it, and nothing
   * else on the midlayer does.
   */
  public static Client sleeping(String name, Duration nap, java.util.concurrent.atomic.AtomicInteger finished) {
    return new Plain(name) {
      @Override
      public boolean add(Device device, ClientId self) throws InterruptedException {
        Thread.sleep(nap.toMillis()); // the behaviour under test: a client that sleeps in add
        finished.incrementAndGet();
        return true;
      }

      @Override
      public void remove(Device device, ClientId self, Object clientData) throws InterruptedException {
        Thread.sleep(nap.toMillis());
        finished.incrementAndGet();
      }
    };
  }

  /**
   * A plain client whose remove does not return until {@link Stuck#release()}: the registry waits for it (and
   * warns, naming it and the device), while operations that need neither the client nor the device go on.
   */
  public static Stuck stuckInRemove(String name) {
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Client client = new Plain(name) {
      @Override
      public void remove(Device device, ClientId self, Object clientData) throws InterruptedException {
        entered.countDown();
        release.await(MAX_STUCK.toMillis(), TimeUnit.MILLISECONDS); // a client's remove may sleep
      }
    };
    return new Stuck(client, null, entered, release::countDown);
  }

  /**
   * A typed client that answers {@code DeviceAdded} but does not reply to {@code DeviceRemoved} until
   * {@link Stuck#release()}: the registry waits and warns, as for {@link #stuckInRemove}.
   */
  public static Stuck typedNeverReplyingToRemove() {
    CountDownLatch entered = new CountDownLatch(1);
    AtomicReference<ActorRef<Done>> pending = new AtomicReference<>();
    CountDownLatch released = new CountDownLatch(1);
    Behavior<ClientMessage> behavior = Behaviors.receive(ClientMessage.class)
        .onMessage(ClientMessage.DeviceAdded.class, m -> {
          m.replyTo().tell(ClientMessage.AddReply.added());
          return Behaviors.same();
        })
        .onMessage(ClientMessage.DeviceRemoved.class, m -> {
          if (released.getCount() == 0) {
            m.replyTo().tell(Done.getInstance());
          } else {
            pending.set(m.replyTo());
            entered.countDown();
          }
          return Behaviors.same();
        })
        .build();
    return new Stuck(null, behavior, entered, () -> {
      released.countDown();
      ActorRef<Done> replyTo = pending.getAndSet(null);
      if (replyTo != null) {
        replyTo.tell(Done.getInstance());
      }
    });
  }

  /** A client stuck in remove: register {@link #client()} or {@link #behavior()}, then {@link #release()}. */
  public static final class Stuck {
    private final Client client;
    private final Behavior<ClientMessage> behavior;
    private final CountDownLatch entered;
    private final Runnable release;

    Stuck(Client client, Behavior<ClientMessage> behavior, CountDownLatch entered, Runnable release) {
      this.client = client;
      this.behavior = behavior;
      this.entered = entered;
      this.release = release;
    }

    /** The plain client, or null for a typed one. Never blocks; any thread. */
    public Client client() {
      return client;
    }

    /** The typed client, or null for a plain one. Never blocks; any thread. */
    public Behavior<ClientMessage> behavior() {
      return behavior;
    }

    /** Waits until the client is in (or has received) its first remove. Blocks the test thread. */
    public void awaitInRemove() {
      Await.eventually(() -> {
        if (entered.getCount() != 0) {
          throw new AssertionError("the client has not got its remove yet");
        }
      });
    }

    /** Lets the remove finish (now, or at once when it comes). Never blocks; any thread. */
    public void release() {
      release.run();
    }
  }

  private static void leak(Device device) throws Exception {
    device.allocPd().toCompletableFuture().get(10, TimeUnit.SECONDS);
    device.createCq(8, null, null, null).toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  /** A plain client that uses every device and does nothing else. */
  private abstract static class Plain implements Client {
    private final String name;

    Plain(String name) {
      this.name = name;
    }

    @Override
    public String name() {
      return name;
    }

    @Override
    public boolean add(Device device, ClientId self) throws Exception {
      return true;
    }

    @Override
    public void remove(Device device, ClientId self, Object clientData) throws Exception {}
  }
}

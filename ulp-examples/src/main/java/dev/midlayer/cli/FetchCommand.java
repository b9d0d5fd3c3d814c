package dev.midlayer.cli;

import dev.midlayer.Midlayer;
import dev.midlayer.client.ClientId;
import dev.midlayer.cm.CmDestination;
import dev.midlayer.drivers.engine.SoftLimits;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.ib.DeviceAttributes;
import dev.midlayer.drivers.loopback.LoopbackFabric;
import dev.midlayer.ulp.fetch.FetchInitiator;
import dev.midlayer.ulp.fetch.FetchInitiatorClient;
import dev.midlayer.ulp.fetch.FetchTargetClient;
import dev.midlayer.verbs.Page;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.actor.typed.ActorSystem;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code midlayer fetch}: runs the fetch template ULP ({@code dev.midlayer.ulp.fetch}) between two loopback
 * devices: random ranges of a store, each written by the target into the initiator's fast-registered
 * pages and answered with SEND_WITH_INV; every byte is checked against the store.
 */
@Command(name = "fetch", mixinStandardHelpOptions = true,
    description = "Run the fetch template ULP (FRWR + RDMA WRITE + SEND_WITH_INV) on two loopback devices and "
        + "check every byte fetched.")
public final class FetchCommand implements Callable<Integer> {
  /** The CM service ID the fetch target listens on. */
  static final long SERVICE_ID = 0x4D4C_4645_5443_4800L; // "MLFETCH"

  /** The largest store, and the largest page pool of the initiator (depth x pages x 4 KiB). */
  static final int MAX_MIB = 1024;

  @Spec
  CommandSpec spec;

  @Option(names = {"-n", "--fetches"}, defaultValue = "10000", description = "Fetches (default ${DEFAULT-VALUE}).")
  int fetches;

  @Option(names = "--store-mib", defaultValue = "16",
      description = "Store size in MiB, 1.." + MAX_MIB + " (default ${DEFAULT-VALUE}).")
  int storeMib;

  @Option(names = "--depth", defaultValue = "16", description = "Slots, i.e. fetches in flight (default ${DEFAULT-VALUE}).")
  int depth;

  @Option(names = "--pages", defaultValue = "16",
      description = "Pages per slot: the largest fetch is this x 4 KiB (default ${DEFAULT-VALUE}).")
  int pages;

  @Override
  public Integer call() throws Exception {
    checkOptions();
    ActorSystem<Void> system = MidlayerCli.startSystem();
    try {
      return run(system, System.out);
    } finally {
      MidlayerCli.stopSystem(system);
    }
  }

  /**
   * Refuses out-of-range options before anything is allocated (usage error, exit code 2): each request takes
   * three send WRs (REG_MR, the request SEND, LOCAL_INV), a slot's region at most max_fast_reg_page_list_len
   * pages.
   */
  void checkOptions() {
    DeviceAttributes limits = SoftLimits.limits();
    Bounds.check(spec, "--fetches", fetches, 1, Integer.MAX_VALUE);
    Bounds.check(spec, "--store-mib", storeMib, 1, MAX_MIB);
    Bounds.check(spec, "--depth", depth, 1, limits.maxQpWr() / 3, "max_qp_wr / 3 send WRs per fetch");
    Bounds.check(spec, "--pages", pages, 1, limits.maxFastRegPageListLen(), "max_fast_reg_page_list_len");
    long poolMib = (long) depth * pages * Page.SIZE >> 20;
    if (poolMib > MAX_MIB) {
      throw new ParameterException(spec.commandLine(), "--depth x --pages x 4 KiB must be <= " + MAX_MIB
          + " MiB, was " + poolMib + " MiB");
    }
  }

  /**
   * Runs the fetches on {@code system}, printing a summary to {@code out}; returns the exit code. May sleep: from the
   * command's thread, never from a callback.
   */
  int run(ActorSystem<?> system, PrintStream out) throws Exception {
    Midlayer midlayer = Midlayer.get(system);
    LoopbackFabric fabric = new LoopbackFabric(midlayer);
    LoopbackDevice a = fabric.addDevice("lo%d", 1).toCompletableFuture().get(10, TimeUnit.SECONDS);
    LoopbackDevice b = fabric.addDevice("lo%d", 1).toCompletableFuture().get(10, TimeUnit.SECONDS);
    byte[] store = new byte[storeMib << 20];
    new Random(1).nextBytes(store);
    // Registered clients, connected through the connection manager: the target listens on b, the initiator on a
    // connects to b's GID.
    ClientId targetId = midlayer.registerClient(new FetchTargetClient(midlayer, "fetch-target", d -> d == b.device(),
        SERVICE_ID, ByteBuffer.allocateDirect(store.length).put(store).flip(), depth))
        .toCompletableFuture().get(30, TimeUnit.SECONDS);
    FetchInitiatorClient initiators = new FetchInitiatorClient(midlayer, "fetch-initiator",
        d -> d == a.device() ? Optional.of(CmDestination.gid(b.device().cachedPort(1).gids().get(0)))
            : Optional.empty(), SERVICE_ID, depth, pages);
    ClientId initiatorId = null;
    try {
      initiatorId = midlayer.registerClient(initiators).toCompletableFuture().get(30, TimeUnit.SECONDS);
      FetchInitiator initiator = initiators.initiator(a.device())
          .orElseThrow(() -> new IllegalStateException("the initiator on " + a.name() + " did not connect"));
      out.printf("fetch: %d fetches of 1..%d bytes from a %d MiB store, %d in flight, initiator %s, target %s%n",
          fetches, initiator.maxLength(), storeMib, depth, a.name(), b.name());
      Random rnd = new Random(2);
      Semaphore window = new Semaphore(2 * depth); // beyond the slots, requests wait in the initiator's queue
      AtomicLong bytes = new AtomicLong();
      AtomicReference<Throwable> failure = new AtomicReference<>();
      long start = System.nanoTime();
      CompletableFuture<?>[] all = new CompletableFuture<?>[fetches];
      for (int i = 0; i < fetches && failure.get() == null; i++) {
        int length = 1 + rnd.nextInt(initiator.maxLength());
        int offset = rnd.nextInt(store.length - length + 1);
        window.acquire();
        all[i] = initiator.fetch(offset, length).toCompletableFuture().whenComplete((data, error) -> {
          window.release();
          if (error != null) {
            failure.compareAndSet(null, error);
          } else if (!Arrays.equals(data, 0, length, store, offset, offset + length)) {
            failure.compareAndSet(null, new IllegalStateException("wrong bytes at [" + offset + ", +" + length + ")"));
          } else {
            bytes.addAndGet(length);
          }
        });
      }
      for (CompletableFuture<?> f : all) {
        if (f != null) {
          f.handle((v, e) -> null).get(30, TimeUnit.SECONDS);
        }
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      if (failure.get() != null) {
        out.println("FAILED: " + failure.get());
        return 1;
      }
      out.printf("ok: %d fetches, %.1f MiB, every byte checked, %d keys invalidated by the target; %.0f fetches/s, "
          + "%.0f MiB/s%n", fetches, bytes.get() / 1048576.0, initiator.invalidatedByTarget(), fetches / seconds,
          bytes.get() / 1048576.0 / seconds);
      return 0;
    } finally {
      if (initiatorId != null) {
        midlayer.unregisterClient(initiatorId).toCompletableFuture().get(30, TimeUnit.SECONDS);
      }
      midlayer.unregisterClient(targetId).toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }
}

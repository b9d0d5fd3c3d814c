package dev.midlayer.ulp.pingpong;

import dev.midlayer.cq.CompletionQueue;

/**
 * Busy polling: a thread that spins on a {@link dev.midlayer.cq.PollContext#DIRECT} CQ, calling each
 * completion's {@code Cqe} (in atomic context, as the CQ's actor would). It holds a core while it runs: the price
 * of the lowest latency, as {@code ibv_rc_pingpong} without {@code -e} pays it.
 */
final class Poller implements Runnable {
  /** Completions per {@code processDirect} call, as the CQ actor's batches. */
  private static final int BUDGET = 16;

  private final CompletionQueue cq;
  private final Thread thread;
  private volatile boolean running = true;

  private Poller(CompletionQueue cq, String name) {
    this.cq = cq;
    this.thread = new Thread(this, name);
    this.thread.setDaemon(true);
  }

  /** Starts polling {@code cq} on a new thread named {@code name}. <b>May sleep</b> (starts a thread). */
  static Poller start(CompletionQueue cq, String name) {
    Poller p = new Poller(cq, name);
    p.thread.start();
    return p;
  }

  @Override
  public void run() {
    while (running) {
      if (cq.processDirect(BUDGET) == 0) {
        Thread.onSpinWait();
      }
    }
  }

  /**
   * Stops polling and waits for the thread to end, so that nothing polls the CQ afterwards (a drain polls it
   * itself). <b>May sleep</b>; not from the poller's own callbacks.
   */
  void stop() {
    running = false;
    boolean interrupted = false;
    while (thread.isAlive()) {
      try {
        thread.join();
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}

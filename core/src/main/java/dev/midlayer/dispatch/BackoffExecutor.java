package dev.midlayer.dispatch;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.apache.pekko.dispatch.DispatcherPrerequisites;
import org.apache.pekko.dispatch.ExecutorServiceConfigurator;
import org.apache.pekko.dispatch.ExecutorServiceFactory;
import org.apache.pekko.dispatch.MonitorableThreadFactory;
import org.jctools.queues.MpmcUnboundedXaddArrayQueue;

/**
 * A Pekko executor for a dispatcher that non-sleeping verbs tell and that gets a stream of small tasks (the
 * midlayer's consumer-callback dispatcher: completions and events): a fixed set of workers, all started when
 * the pool is made, that take work from one lock-free queue (JCTools {@code MpmcUnboundedXaddArrayQueue}).
 * A worker that runs out of work polls on for a while, the way a NIC's poll loop does ({@code spins} busy
 * polls, then {@code yields} polls that yield the core), and then parks until a submitter wakes it.
 *
 * <p>So {@code execute}, from any thread, is one atomic add into the queue and, only when no worker is
 * polling, one {@code unpark}: it never parks, never takes a lock and never starts a thread. While tasks keep
 * coming, a polling worker takes the next one and the submitter makes no system call; an idle pool costs
 * nothing, since its workers park (unlike Pekko's {@code affinity-pool-executor}, whose idle workers keep
 * waking up). The price is the polling itself: a worker that spins takes a core from whoever else needs it,
 * which on a small machine can cost more than the wake-up it saves.
 *
 * <p>Use it as {@code executor = "dev.midlayer.dispatch.BackoffExecutor"} with a section
 * {@code backoff-executor { parallelism-min, parallelism-factor, parallelism-max, spins, yields }} (see the
 * midlayer's {@code reference.conf}), and a long {@code shutdown-timeout} so Pekko does not discard the pool
 * while no actor uses it. A task that blocks holds its worker; the others go on. Pekko constructs it from the
 * dispatcher's config.
 */
public final class BackoffExecutor extends ExecutorServiceConfigurator {
  private final int parallelism;
  private final Backoff backoff;

  /** Pekko's constructor for executor configurators: {@code config} is the whole dispatcher section. */
  public BackoffExecutor(Config config, DispatcherPrerequisites prerequisites) {
    super(config, prerequisites);
    Config c = config.getConfig("backoff-executor");
    this.parallelism = parallelism(c, Runtime.getRuntime().availableProcessors());
    this.backoff = new Backoff(c.getInt("spins"), c.getInt("yields"));
    if (backoff.spins < 0 || backoff.yields < 0) {
      throw new ConfigException.BadValue(c.origin(), "backoff-executor", "needs spins >= 0 and yields >= 0");
    }
  }

  /** The number of workers for {@code cores} cores: ceil(cores x factor) bounded by min and max, as Pekko sizes pools. */
  public static int parallelism(Config backoffExecutor, int cores) {
    return PoolSize.parallelism(backoffExecutor, "backoff-executor", cores);
  }

  @Override
  public ExecutorServiceFactory createExecutorServiceFactory(String id, ThreadFactory threadFactory) {
    // Threads named <system>-<dispatcher id>-<n>, as Pekko's own executors name theirs.
    ThreadFactory named = threadFactory instanceof MonitorableThreadFactory m ? m.withName(m.name() + "-" + id)
        : threadFactory;
    return () -> new Pool(parallelism, named, backoff);
  }

  /** How an idle worker waits before it parks: {@code spins} busy polls, then {@code yields} yielding ones. */
  record Backoff(int spins, int yields) {}

  /** The executor service: one queue, {@code n} workers started at construction. */
  static final class Pool extends AbstractExecutorService {
    private static final int RUNNING = 0;
    private static final int SHUTDOWN = 1;

    private final MpmcUnboundedXaddArrayQueue<Runnable> queue = new MpmcUnboundedXaddArrayQueue<>(1024);
    private final Worker[] workers;
    private final Backoff backoff;
    private volatile int runState = RUNNING;
    private final AtomicInteger live;

    Pool(int n, ThreadFactory threadFactory, Backoff backoff) {
      this.backoff = backoff;
      this.workers = new Worker[n];
      this.live = new AtomicInteger(n);
      for (int i = 0; i < n; i++) {
        workers[i] = new Worker();
      }
      for (Worker w : workers) {
        w.thread = threadFactory.newThread(w);
        if (w.thread == null) {
          throw new IllegalStateException("the thread factory made no thread");
        }
      }
      for (Worker w : workers) {
        w.thread.start();
      }
    }

    /** Never parks, never starts a thread: one atomic add, and an unpark only if every worker sleeps. Any thread. */
    @Override
    public void execute(Runnable task) {
      if (task == null) {
        throw new NullPointerException("task");
      }
      if (runState != RUNNING) {
        throw new RejectedExecutionException("the pool is shut down");
      }
      queue.offer(task);
      // A spinning worker polls again within microseconds: no need to wake anyone. A busy one may be held by
      // a blocking task, so it does not count. The offer's atomic add comes before these reads, and a
      // worker's PARKED write before its last check of the queue: either we see it parked and wake it, or
      // it sees the task.
      for (Worker w : workers) {
        if (w.state == Worker.SPINNING) {
          return;
        }
      }
      for (Worker w : workers) {
        if (w.state == Worker.PARKED && Worker.STATE.compareAndSet(w, Worker.PARKED, Worker.AWAKE)) {
          LockSupport.unpark(w.thread);
          return;
        }
      }
    }

    @Override
    public void shutdown() {
      runState = SHUTDOWN;
      for (Worker w : workers) {
        LockSupport.unpark(w.thread);
      }
    }

    @Override
    public List<Runnable> shutdownNow() {
      shutdown();
      List<Runnable> left = new ArrayList<>();
      Runnable r;
      while ((r = queue.poll()) != null) {
        left.add(r);
      }
      for (Worker w : workers) {
        w.thread.interrupt();
      }
      return left;
    }

    @Override
    public boolean isShutdown() {
      return runState != RUNNING;
    }

    @Override
    public boolean isTerminated() {
      return live.get() == 0;
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
      long deadline = System.nanoTime() + unit.toNanos(timeout);
      for (Worker w : workers) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return isTerminated();
        }
        TimeUnit.NANOSECONDS.timedJoin(w.thread, left);
      }
      return isTerminated();
    }

    /** One worker: runs tasks until the pool is shut down and its queue is empty. */
    private final class Worker implements Runnable {
      /** Running tasks, or about to poll the queue again. */
      static final int AWAKE = 0;
      /** Out of work but polling again within microseconds: a submitter need not wake it. */
      static final int SPINNING = 1;
      /** Parked until a submitter unparks it. */
      static final int PARKED = 2;
      static final java.lang.invoke.VarHandle STATE;

      static {
        try {
          STATE = java.lang.invoke.MethodHandles.lookup().findVarHandle(Worker.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
          throw new ExceptionInInitializerError(e);
        }
      }

      volatile int state = AWAKE;
      Thread thread;

      @Override
      public void run() {
        try {
          loop();
        } finally {
          live.decrementAndGet();
        }
      }

      private void loop() {
        int step = 0;
        while (true) {
          Runnable task = queue.poll();
          if (task != null) {
            if (step != 0) {
              state = AWAKE;
              step = 0;
            }
            runTask(task);
            continue;
          }
          if (runState != RUNNING) {
            return;
          }
          if (step == 0) {
            state = SPINNING;
          }
          step++;
          if (step <= backoff.spins()) {
            Thread.onSpinWait();
          } else if (step <= backoff.spins() + backoff.yields()) {
            Thread.yield();
          } else {
            park();
            step = 0;
          }
        }
      }

      /** Parks until a submitter (or shutdown) wakes it; returns at once if work arrived meanwhile. */
      private void park() {
        state = PARKED;
        // The write above comes before this read, as a submitter's offer comes before its read of our state:
        // either it sees PARKED and wakes us, or we see its task here.
        if (!queue.isEmpty() || runState != RUNNING) {
          if (STATE.compareAndSet(this, PARKED, AWAKE)) {
            return;
          }
        }
        while (state == PARKED && runState == RUNNING) {
          LockSupport.park(this);
        }
        state = AWAKE;
      }

      private void runTask(Runnable task) {
        try {
          task.run();
        } catch (Throwable t) {
          // Pekko's mailboxes handle actor failures themselves; anything else goes to the thread's handler,
          // and the worker goes on, so the pool never loses a thread.
          Thread.UncaughtExceptionHandler h = thread.getUncaughtExceptionHandler();
          if (h != null) {
            h.uncaughtException(thread, t);
          }
          if (t instanceof VirtualMachineError) {
            throw (VirtualMachineError) t;
          }
        }
      }
    }
  }
}

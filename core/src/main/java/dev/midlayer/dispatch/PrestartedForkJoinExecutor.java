package dev.midlayer.dispatch;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.dispatch.DispatcherPrerequisites;
import org.apache.pekko.dispatch.ExecutorServiceConfigurator;
import org.apache.pekko.dispatch.ExecutorServiceFactory;
import org.apache.pekko.dispatch.ForkJoinExecutorConfigurator;
import org.apache.pekko.dispatch.MonitorableThreadFactory;

/**
 * A Pekko executor for dispatchers that non-sleeping verbs tell ({@code postSend}'s doorbell,
 * {@code dispatch_event}, a driver adding a completion): a fork-join pool whose workers are all started when
 * the pool is made and never retire, so that an {@code ActorRef.tell} from any thread only enqueues (CAS) and,
 * at most, unparks an idle worker. It never starts a thread on the caller's thread, as Pekko's
 * {@code fork-join-executor} does when its idle workers retired (its keep-alive is a fixed 60 s), and never
 * takes a lock that parks, as {@code thread-pool-executor}'s queue does. Idle workers of a shared queue
 * take any actor's work, so one actor that blocks holds one worker, not the others' actors.
 *
 * <p>Use it as {@code executor = "dev.midlayer.dispatch.PrestartedForkJoinExecutor"} with a section
 * {@code prestarted-fork-join { parallelism-min, parallelism-factor, parallelism-max, max-spare, keep-alive }}
 * (see the midlayer's {@code reference.conf}); give the dispatcher a long {@code shutdown-timeout} so Pekko
 * does not discard the pool when no actor uses it for a while (the midlayer keeps an actor on each of its
 * dispatchers for the same reason). Pekko constructs it from the dispatcher's config; it holds no state
 * of its own beyond that.
 *
 * <p>Threading: the constructor and {@link #parallelism} only read config: they never block and may be called
 * from any thread. Making the pool (Pekko does it when the dispatcher is first used) blocks the thread that
 * makes it until every worker started, at most 10 s.
 */
public final class PrestartedForkJoinExecutor extends ExecutorServiceConfigurator {
  private final int parallelism;
  private final int maxSpare;
  private final long keepAliveMillis;

  /** Pekko's constructor for executor configurators: {@code config} is the whole dispatcher section. */
  public PrestartedForkJoinExecutor(Config config, DispatcherPrerequisites prerequisites) {
    super(config, prerequisites);
    Config c = config.getConfig("prestarted-fork-join");
    this.parallelism = parallelism(c, Runtime.getRuntime().availableProcessors());
    this.maxSpare = c.getInt("max-spare");
    this.keepAliveMillis = c.getDuration("keep-alive", TimeUnit.MILLISECONDS);
    if (maxSpare < 0 || keepAliveMillis < TimeUnit.HOURS.toMillis(1)) {
      throw new ConfigException.BadValue(c.origin(), "prestarted-fork-join",
          "max-spare must be >= 0 and keep-alive at least 1h (workers must not retire), were " + maxSpare + " and "
              + keepAliveMillis + " ms");
    }
  }

  /** The number of workers for {@code cores} cores: ceil(cores x factor) bounded by min and max, as Pekko sizes pools. */
  public static int parallelism(Config prestartedForkJoin, int cores) {
    return PoolSize.parallelism(prestartedForkJoin, "prestarted-fork-join", cores);
  }

  @Override
  public ExecutorServiceFactory createExecutorServiceFactory(String id, ThreadFactory threadFactory) {
    ForkJoinPool.ForkJoinWorkerThreadFactory workers = threadFactory instanceof MonitorableThreadFactory m
        ? m.withName(m.name() + "-" + id)
        : (ForkJoinPool.ForkJoinWorkerThreadFactory) threadFactory;
    return () -> {
      // Core size = parallelism and a keep-alive of days: the workers started below never retire.
      ForkJoinPool pool = new ForkJoinPool(parallelism, workers, null, true, parallelism, parallelism + maxSpare, 1,
          null, keepAliveMillis, TimeUnit.MILLISECONDS) {
        @Override
        public void execute(Runnable task) {
          super.execute(task instanceof ForkJoinTask<?> t ? t : new ForkJoinExecutorConfigurator.PekkoForkJoinTask(task));
        }
      };
      prestart(pool, id);
      return pool;
    };
  }

  /** Starts every worker now, on the thread that creates the pool (the midlayer's start), by keeping each busy. */
  private void prestart(ForkJoinPool pool, String id) {
    CountDownLatch started = new CountDownLatch(parallelism);
    CountDownLatch release = new CountDownLatch(1);
    for (int i = 0; i < parallelism; i++) {
      pool.execute(() -> {
        started.countDown();
        try {
          release.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      });
    }
    try {
      if (!started.await(10, TimeUnit.SECONDS)) {
        throw new IllegalStateException("dispatcher " + id + ": could not start " + parallelism + " workers");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      release.countDown();
    }
  }
}

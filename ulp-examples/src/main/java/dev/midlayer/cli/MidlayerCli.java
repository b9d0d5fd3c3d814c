package dev.midlayer.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** The {@code midlayer} command line. Run {@code java -jar ulp-examples/target/midlayer.jar --help}. */
@Command(
    name = "midlayer",
    mixinStandardHelpOptions = true,
    version = "midlayer 0.1.0-SNAPSHOT",
    description = "An InfiniBand-style RDMA midlayer on Pekko typed actors, on an in-JVM loopback fabric.",
    subcommands = {DemoCommand.class, DevInfoCommand.class, HotplugCommand.class, PingPongCommand.class, KvCommand.class,
        RpcCommand.class, FetchCommand.class, NodeCommand.class, StatCommand.class, ResCommand.class,
        dev.midlayer.cli.perftest.PerftestCommand.class})
public final class MidlayerCli implements Runnable {

  /**
   * The command line's logging configuration, a classpath resource: not named {@code logback.xml}, so that an
   * application embedding this jar keeps its own.
   */
  static final String LOGBACK_CONFIG = "midlayer-cli-logback.xml";

  /** Runs the command line and exits with its code. May sleep (as long as the command runs); the main thread. */
  public static void main(String[] args) {
    if (System.getProperty("logback.configurationFile") == null) {
      System.setProperty("logback.configurationFile", LOGBACK_CONFIG);
    }
    // Initialise logging before the actor system starts logging from its own threads.
    LoggerFactory.getLogger(MidlayerCli.class);
    System.exit(commandLine().execute(args));
  }

  /**
   * The whole command line; a usage error is one line on stderr and exit code 2 ({@link UsageErrors}). Never
   * blocks; any thread (the command line it returns runs on the thread that calls {@code execute}).
   */
  public static CommandLine commandLine() {
    return UsageErrors.install(new CommandLine(new MidlayerCli()));
  }

  @Spec
  CommandSpec spec;

  /** Without a command: a usage error naming the commands (exit code 2), as {@code midlayer --help} lists them. */
  @Override
  public void run() {
    throw UsageErrors.missingSubcommand(spec);
  }

  /**
   * Starts the actor system the commands run the midlayer in ({@code midlayer-cli.conf} over the defaults). May
   * sleep while the system starts; the command's thread, not an actor's turn.
   */
  public static ActorSystem<Void> startSystem() {
    Config config = ConfigFactory.load("midlayer-cli");
    return ActorSystem.create(Behaviors.empty(), "midlayer", config);
  }

  /**
   * Terminates the actor system and waits for it (up to 30 s). May sleep; the command's thread, never one of
   * {@code system}'s own (it would wait for itself).
   */
  public static void stopSystem(ActorSystem<?> system) throws Exception {
    system.terminate();
    system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }
}

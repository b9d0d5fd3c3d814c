package dev.midlayer.cli.perftest;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.util.List;
import org.slf4j.LoggerFactory;

/**
 * The device actors' warnings about objects left behind, captured while a command runs its own actor system (so
 * the testkit's monitor cannot see it): a run that cleans up after itself leaves none.
 */
final class LeftoverLog implements AutoCloseable {
  private final ListAppender<ILoggingEvent> appender = new ListAppender<>();
  private final Logger logger = (Logger) LoggerFactory.getLogger("dev.midlayer.internal.device.DeviceActor");

  LeftoverLog() {
    appender.start();
    logger.addAppender(appender);
  }

  /** The leftover warnings so far. */
  List<String> leftovers() {
    synchronized (appender.list) {
      return appender.list.stream().map(ILoggingEvent::getFormattedMessage)
          .filter(m -> m.contains("was left after every client's remove")).toList();
    }
  }

  @Override
  public void close() {
    logger.detachAppender(appender);
    appender.stop();
  }
}

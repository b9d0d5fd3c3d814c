package dev.midlayer.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.platform.testkit.engine.EngineTestKit;
import org.junit.platform.testkit.engine.Events;

class SeedsTest {
  /** What the scenarios saw, for the checks below (the scenarios run inside EngineTestKit). */
  static final List<Long> seen = new ArrayList<>();
  static final List<Integer> firstRandom = new ArrayList<>();

  /** A randomized test that fails; not run by Surefire (a nested class), only through EngineTestKit. */
  static class FailingScenario {
    @RegisterExtension
    final Seeds seeds = new Seeds();

    @Test
    void randomizedAndBroken() {
      seen.add(seeds.seed());
      firstRandom.add(seeds.random().nextInt());
      throw new AssertionError("the scenario's own failure");
    }
  }

  @AfterEach
  void clear() {
    System.clearProperty(Seeds.PROPERTY);
    seen.clear();
    firstRandom.clear();
  }

  private static Throwable runScenario() {
    Events failed = EngineTestKit.engine("junit-jupiter").selectors(selectClass(FailingScenario.class)).execute()
        .testEvents().failed();
    assertEquals(1, failed.count());
    return failed.stream().findFirst().orElseThrow().getRequiredPayload(
        org.junit.platform.engine.TestExecutionResult.class).getThrowable().orElseThrow();
  }

  @Test
  @DisplayName("a failing test keeps its own failure and reports the seed it ran with and how to replay it")
  void aFailureNamesItsSeed() {
    Throwable failure = runScenario();
    assertInstanceOf(AssertionError.class, failure);
    assertEquals("the scenario's own failure", failure.getMessage());
    Seeds.SeedReport report = assertInstanceOf(Seeds.SeedReport.class, failure.getSuppressed()[0]);
    assertEquals(seen.get(0), report.seed());
    assertTrue(report.getMessage().contains("-D" + Seeds.PROPERTY + "=" + seen.get(0)), report.getMessage());
  }

  @Test
  @DisplayName("-Dmidlayer.test.seed replays a seed: the same seed and the same random sequence")
  void thePropertyReplaysASeed() {
    runScenario();
    long first = seen.get(0);
    System.setProperty(Seeds.PROPERTY, Long.toString(first));
    runScenario();
    runScenario();
    assertEquals(List.of(first, first, first), seen);
    assertEquals(firstRandom.get(0), firstRandom.get(1));
    assertEquals(firstRandom.get(0), firstRandom.get(2));
  }

  @Test
  @DisplayName("a bad property value is named; seed() outside a test is refused")
  void badInput() {
    IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> Seeds.seedFrom("soon"));
    assertTrue(bad.getMessage().contains(Seeds.PROPERTY + "=soon"), bad.getMessage());
    assertEquals(-5, Seeds.seedFrom(" -5 "));
    assertThrows(IllegalStateException.class, () -> new Seeds().seed());
  }
}

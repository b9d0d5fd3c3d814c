package dev.midlayer.testkit;

import dev.midlayer.monitor.Check;
import dev.midlayer.monitor.ContractMonitor;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The contract monitor's verdict on every test of a module, also on tests that start their midlayer without
 * {@link MidlayerTestKit} (an application's own actor system, a command line run in-process). Set
 * {@code midlayer.monitor.attach = on} in the tests' configuration ({@code application.conf}, and
 * {@code application-test.conf} with {@code include "application"} for Pekko's {@code ActorTestKit.create()}), and
 * register this extension for all tests through JUnit's auto-detection: a file
 * {@code META-INF/services/org.junit.jupiter.api.extension.Extension} naming it and
 * {@code junit.jupiter.extensions.autodetection.enabled = true} in {@code junit-platform.properties} (or
 * {@code @ExtendWith} on a class). After each test, every midlayer the test started must have seen no violation
 * but those its {@link ExpectViolations} names; after the class, the same for midlayers the class shared among its
 * tests. Leftovers of objects no client made are allowed (tests that make objects directly and leave them to the
 * unregistration); a client's leftovers are not. Callbacks run on the test thread.
 */
public final class MonitorVerdictExtension implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback,
    AfterEachCallback {
  private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(MonitorVerdictExtension.class);

  @Override
  public void beforeAll(ExtensionContext context) {
    context.getStore(NS).put("class", ContractMonitor.attachCount());
  }

  @Override
  public void beforeEach(ExtensionContext context) {
    context.getStore(NS).put("test", ContractMonitor.attachCount());
  }

  @Override
  public void afterEach(ExtensionContext context) {
    long mark = context.getStore(NS).get("test", Long.class);
    List<ContractMonitor> mine = ContractMonitor.attachedAfter(mark);
    judged(context).addAll(mine);
    judge(mine, expected(context), context.getDisplayName());
  }

  @Override
  public void afterAll(ExtensionContext context) {
    long mark = context.getStore(NS).get("class", Long.class);
    List<ContractMonitor> shared = new ArrayList<>(ContractMonitor.attachedAfter(mark));
    shared.removeIf(judged(context)::contains); // the per-test midlayers were judged after their tests
    judge(shared, expected(context), context.getDisplayName());
  }

  /** The monitors already judged after a test of this class (the class's store, shared by its tests). */
  @SuppressWarnings("unchecked")
  private static Set<ContractMonitor> judged(ExtensionContext context) {
    ExtensionContext classContext = context.getTestMethod().isPresent() ? context.getParent().orElseThrow() : context;
    return classContext.getStore(NS).getOrComputeIfAbsent("judged",
        k -> java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>()), Set.class);
  }

  private static Set<Check> expected(ExtensionContext context) {
    Set<Check> out = EnumSet.noneOf(Check.class);
    context.getTestClass().ifPresent(c -> {
      ExpectViolations e = c.getAnnotation(ExpectViolations.class);
      if (e != null) {
        out.addAll(List.of(e.value()));
      }
      for (var m : c.getDeclaredMethods()) {
        ExpectViolations em = m.getAnnotation(ExpectViolations.class);
        if (em != null && context.getTestMethod().isEmpty()) {
          out.addAll(List.of(em.value())); // a class-wide midlayer sees every test's provocations
        }
      }
    });
    context.getTestMethod().ifPresent(m -> {
      ExpectViolations e = m.getAnnotation(ExpectViolations.class);
      if (e != null) {
        out.addAll(List.of(e.value()));
      }
    });
    return out;
  }

  private static void judge(List<ContractMonitor> monitors, Set<Check> allowed, String where) {
    for (ContractMonitor m : monitors) {
      m.assertNone(where + " (" + m + ")", allowed, true);
    }
  }
}

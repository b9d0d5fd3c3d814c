package dev.midlayer.layering;

import static com.tngtech.archunit.base.DescribedPredicate.not;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAPackage;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAnyPackage;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.members;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.Dependency;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaCodeUnit;
import com.tngtech.archunit.core.domain.JavaField;
import com.tngtech.archunit.core.domain.JavaMember;
import com.tngtech.archunit.core.domain.JavaModifier;
import com.tngtech.archunit.core.domain.JavaType;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.SimpleConditionEvent;
import com.tngtech.archunit.library.dependencies.SliceAssignment;
import com.tngtech.archunit.library.dependencies.SliceIdentifier;
import com.tngtech.archunit.library.dependencies.SlicesRuleDefinition;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The project's layers as ArchUnit rules, over any base package (the real one, {@code dev.midlayer}, and the
 * deliberately broken fixture that proves each rule can fail):
 *
 * <pre>
 * ib        IB value types and the base errors      depends on nothing of the project
 * spi       what a driver implements and is given   depends on ib only
 * api       Midlayer, registry, device, client,     may depend on spi and ib; never on internal
 *           context, cq, verbs, dispatch, monitor,  (but for the extension's bootstrap, listed below)
 *           cm
 * internal  the actors and tables behind the API    not exposed by any public signature of the API
 * drivers   software drivers                        see ib, spi and the public handles only
 * ulp, cli, testkit                                 the public API only (never internal)
 * </pre>
 *
 * Package cycles: none between these groups, except the ones {@link #ALLOWED_CYCLE_EDGES} lists with their
 * reason. Inside the API, cycles that mirror {@code ib_verbs.h} are natural (a QP knows its CQ, a CQ its
 * device, a device creates both); inside internal, the implementations of those handles mirror them too.
 */
final class Layering {
  private Layering() {}

  /** The packages of the consumer API below a base package ({@code base} itself holds Midlayer and MidlayerId). */
  static final String[] API = {"registry", "device", "client", "context", "cq", "verbs", "dispatch", "monitor",
      "cm"};

  /**
   * The dependencies that close a cycle between groups, each with why it is there. Keyed by
   * "origin class simple name -> target class simple name".
   */
  static final Map<String, String> ALLOWED_CYCLE_EDGES = Map.of(
      "MidlayerId -> MidlayerImpl",
      "a Pekko ExtensionId constructs its extension: the one edge from the API into internal");

  static Map<String, ArchRule> rules(String base) {
    Map<String, ArchRule> rules = new LinkedHashMap<>();
    String ib = base + ".ib..";
    String spi = base + ".spi..";
    String internal = base + ".internal..";
    String drivers = base + ".drivers..";
    String[] api = apiPackages(base);
    DescribedPredicate<JavaClass> project = resideInAPackage(base + "..");

    rules.put("ib depends on nothing of the project", noClasses().that().resideInAPackage(ib)
        .should().dependOnClassesThat(project.and(not(resideInAPackage(ib))))
        .because("the IB value types are the leaf every other layer shares"));

    rules.put("spi depends only on ib", noClasses().that().resideInAPackage(spi)
        .should().dependOnClassesThat(project.and(not(resideInAnyPackage(ib, spi))))
        .because("a driver must be writable against the SPI alone"));

    rules.put("drivers see only ib, spi and the public handles", noClasses().that().resideInAPackage(drivers)
        .should().dependOnClassesThat(project.and(not(resideInAnyPackage(concat(api, ib, spi, drivers)))))
        .because("drivers must not reach into the midlayer's implementation"));

    rules.put("ULPs, the command line and the testkit use only the public API", noClasses()
        .that().resideInAnyPackage(base + ".ulp..", base + ".cli..", base + ".testkit..")
        .should().dependOnClassesThat(resideInAPackage(internal))
        .because("the template ULPs are copied by users, who have only the public API"));

    rules.put("the API does not depend on internal", classes().that().resideInAnyPackage(api)
        .should(notDependOnOutsideListedEdges(resideInAPackage(internal)))
        .because("the handles are interfaces; only the extension id constructs the implementation"));

    rules.put("no public signature of the API exposes internal", members()
        .that().areDeclaredInClassesThat(resideInAnyPackage(concat(api, ib, spi)))
        .should(notExposeInternal(base + ".internal")));

    rules.put("no package cycle between the layers but the listed ones", SlicesRuleDefinition.slices()
        .assignedFrom(groups(base)).should().beFreeOfCycles()
        .ignoreDependency(simpleNamed("MidlayerId"), simpleNamed("MidlayerImpl")));
    return rules;
  }

  private static String[] apiPackages(String base) {
    String[] out = new String[API.length + 1];
    out[0] = base;
    for (int i = 0; i < API.length; i++) {
      out[i + 1] = base + "." + API[i] + "..";
    }
    return out;
  }

  private static String[] concat(String[] a, String... more) {
    String[] out = new String[a.length + more.length];
    System.arraycopy(a, 0, out, 0, a.length);
    System.arraycopy(more, 0, out, a.length, more.length);
    return out;
  }

  private static DescribedPredicate<JavaClass> simpleNamed(String name) {
    return DescribedPredicate.describe("simple name " + name, c -> c.getSimpleName().equals(name));
  }

  /** Every class of the project in one group: ib, spi, api, internal, drivers (or its own package). */
  private static SliceAssignment groups(String base) {
    return new SliceAssignment() {
      @Override
      public SliceIdentifier getIdentifierOf(JavaClass c) {
        String p = c.getPackageName();
        if (!p.equals(base) && !p.startsWith(base + ".")) {
          return SliceIdentifier.ignore();
        }
        String rest = p.equals(base) ? "" : p.substring(base.length() + 1);
        String top = rest.contains(".") ? rest.substring(0, rest.indexOf('.')) : rest;
        if (top.isEmpty() || Set.of(API).contains(top)) {
          return SliceIdentifier.of("api");
        }
        return SliceIdentifier.of(top);
      }

      @Override
      public String getDescription() {
        return "the layers of " + base;
      }
    };
  }

  /** Public members of public types: no parameter, return, field or thrown type (type arguments included) in internal. */
  private static ArchCondition<JavaMember> notExposeInternal(String internalPackage) {
    return new ArchCondition<>("not expose a type of " + internalPackage + " in a public signature") {
      @Override
      public void check(JavaMember member, ConditionEvents events) {
        if (!member.getModifiers().contains(JavaModifier.PUBLIC)
            && !member.getModifiers().contains(JavaModifier.PROTECTED)) {
          return;
        }
        JavaClass owner = member.getOwner();
        if (!owner.getModifiers().contains(JavaModifier.PUBLIC)) {
          return;
        }
        Set<JavaType> types = new java.util.HashSet<>();
        if (member instanceof JavaField f) {
          types.add(f.getType());
        } else if (member instanceof JavaCodeUnit u) {
          types.add(u.getReturnType());
          types.addAll(u.getParameterTypes());
          types.addAll(u.getExceptionTypes());
        }
        Set<String> exposed = types.stream().flatMap(t -> t.getAllInvolvedRawTypes().stream())
            .map(JavaClass::getName)
            .filter(n -> n.startsWith(internalPackage + "."))
            .collect(Collectors.toCollection(java.util.TreeSet::new));
        if (!exposed.isEmpty()) {
          events.add(SimpleConditionEvent.violated(member, member.getFullName() + " exposes " + exposed));
        }
      }
    };
  }

  /** No dependency on a class matching {@code forbidden}, but the {@link #ALLOWED_CYCLE_EDGES}. */
  private static ArchCondition<JavaClass> notDependOnOutsideListedEdges(DescribedPredicate<JavaClass> forbidden) {
    return new ArchCondition<>("not depend on classes that " + forbidden.getDescription()
        + " (but the listed edges)") {
      @Override
      public void check(JavaClass c, ConditionEvents events) {
        for (Dependency d : c.getDirectDependenciesFromSelf()) {
          if (forbidden.test(d.getTargetClass()) && !ALLOWED_CYCLE_EDGES.containsKey(edge(d))) {
            events.add(SimpleConditionEvent.violated(d, d.getDescription()));
          }
        }
      }
    };
  }

  /** For messages: the origin and target of a dependency. */
  static String edge(Dependency d) {
    return d.getOriginClass().getSimpleName() + " -> " + d.getTargetClass().getSimpleName();
  }
}

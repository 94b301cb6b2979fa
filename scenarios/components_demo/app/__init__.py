"""The shop app (``ConvexSim(schema, modules="scenarios.components_demo.app")``)."""

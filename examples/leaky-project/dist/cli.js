console.log("hi");
//# sourceMappingURL=cli.js.map

export default {
  providers: [
    {
      domain: "https://issuer.test",
      applicationID: "app",
    },
  ],
};

// The peer the webhook's throughput is measured against: the webhook endpoint Stripe's own docs
// show for Node (Express, the raw body, stripe-node's constructEvent), answering 200 once the
// signature is verified and the event parsed. It stores nothing, so it is an upper bound on what
// such a receiver does per delivery.
//
//   PORT=4242 STRIPE_WEBHOOK_SECRET=whsec_... node server.js
const express = require("express");
const Stripe = require("stripe");

const stripe = new Stripe("sk_test_peer");
const secret = process.env.STRIPE_WEBHOOK_SECRET;
const app = express();

app.post("/api/stripe/webhook", express.raw({ type: "application/json", limit: "1mb" }), (req, res) => {
  let event;
  try {
    event = stripe.webhooks.constructEvent(req.body, req.headers["stripe-signature"], secret);
  } catch (err) {
    res.status(400).json({ error: err.message });
    return;
  }
  res.json({ received: true, type: event.type });
});

const server = app.listen(Number(process.env.PORT || 4242), "127.0.0.1", () => {
  console.log(`express peer on 127.0.0.1:${server.address().port}`);
});

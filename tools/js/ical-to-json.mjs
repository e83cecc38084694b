// Parses an iCalendar file with ical.js and prints its events as JSON, for
// the Go tests to compare field by field. Usage: node ical-to-json.mjs FILE
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

const text = readFileSync(process.argv[2], "utf8");
const cal = new ICAL.Component(ICAL.parse(text));
const time = (ev, name) => {
  const v = ev.getFirstPropertyValue(name);
  return v ? v.toJSDate().toISOString() : null;
};
const out = {
  version: cal.getFirstPropertyValue("version"),
  prodid: cal.getFirstPropertyValue("prodid"),
  events: cal.getAllSubcomponents("vevent").map((ev) => ({
    uid: ev.getFirstPropertyValue("uid"),
    summary: ev.getFirstPropertyValue("summary"),
    description: ev.getFirstPropertyValue("description"),
    location: ev.getFirstPropertyValue("location"),
    url: ev.getFirstPropertyValue("url"),
    sequence: ev.getFirstPropertyValue("sequence"),
    status: ev.getFirstPropertyValue("status"),
    categories: ev.getFirstPropertyValue("categories"),
    dtstart: time(ev, "dtstart"),
    dtend: time(ev, "dtend"),
    dtstamp: time(ev, "dtstamp"),
  })),
};
console.log(JSON.stringify(out));
